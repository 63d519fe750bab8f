--[[
  A page of dead letters of one shard, oldest death first, strictly after the cursor.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] after score ('-inf' for the first page)   ARGV[2] after id ('' none)   ARGV[3] limit
  Returns a list of {deadAt, record} where record is a flat field/value list.
]]
-- @include shard

local afterScore, afterId, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = nowMs()
local out = {}
local offset = 0
while #out < limit do
  local page = redis.call('ZRANGEBYSCORE', K.dead, afterScore, '+inf', 'WITHSCORES', 'LIMIT', offset, limit)
  if #page == 0 then break end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if #out < limit and not (score == afterScore and id <= afterId) then
      local rec = readRecord(id, now)
      if rec then table.insert(out, { score, rec }) else redis.call('ZREM', K.dead, id) end
    end
  end
  offset = offset + limit
end
return out
