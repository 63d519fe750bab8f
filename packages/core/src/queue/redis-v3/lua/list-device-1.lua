--[[
  A device's pending commands in delivery order: in flight (by score), its line, then its
  scheduled ones. KEYS[1]: the shard prefix (see includes/v3.lua)   ARGV[1] phyId   ARGV[2] limit
  Returns a list of {id, record, inflight, claimedAt or waitingFor}.
]]
-- @include v3

local phyId, limit = ARGV[1], tonumber(ARGV[2])
local now = nowMs()
local out = {}
local function add(ids)
  for _, id in ipairs(ids) do
    if #out >= limit then return end
    local rec = rcall('GET', cmdKey(id))
    if rec then out[#out + 1] = view(id, rec, now) end
  end
end
local scored = {}
for _, e in ipairs(readDev(phyId).inflight) do
  local rec = rcall('GET', cmdKey(e[1]))
  if rec then scored[#scored + 1] = { e[1], recScore(rec) } end
end
table.sort(scored, function(a, b) return a[2] < b[2] end)
local sorted = {}
for i, e in ipairs(scored) do sorted[i] = e[1] end
add(sorted)
add(rcall('ZRANGE', lineKey(phyId), 0, limit - 1))
add(rcall('ZRANGE', schedKey(phyId), 0, limit - 1))
return out
