--[[
  A device's pending commands in delivery order: in flight, then its line (priority, then
  enqueue order; a command waiting for a retry heads it), then scheduled ones by deliverAt.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] phyId   ARGV[2] limit
  Returns a list of records (flat field/value lists ending with waitingFor).
]]
-- @include shard

local phyId, limit = ARGV[1], tonumber(ARGV[2])
local now = nowMs()
local out = {}
local function add(ids)
  for _, id in ipairs(ids) do
    if #out >= limit then return end
    local rec = readRecord(id, now)
    if rec then table.insert(out, rec) end
  end
end
local inflight = redis.call('SMEMBERS', inflightKey(phyId))
local scored = {}
for _, id in ipairs(inflight) do
  table.insert(scored, { id = id, score = tonumber(redis.call('HGET', cmdKey(id), 'score')) or 0 })
end
table.sort(scored, function(a, b) return a.score < b.score end)
local sorted = {}
for _, e in ipairs(scored) do table.insert(sorted, e.id) end
add(sorted)
add(redis.call('ZRANGE', lineKey(phyId), 0, limit - 1))
add(redis.call('ZRANGE', deviceScheduledKey(phyId), 0, limit - 1))
return out
