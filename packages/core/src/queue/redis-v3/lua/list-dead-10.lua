--[[
  Dead letters after a cursor, oldest death first.
  KEYS[1..10]: the shard keys (see includes/v3.lua)
  ARGV[1] after score ('-inf' from the start)   ARGV[2] after id   ARGV[3] limit
  Returns a list of {deadAt, {id, record, 0, ''}}.
]]
-- @include v3

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
      local rec = redis.call('GET', cmdKey(id))
      if rec then out[#out + 1] = { score, view(id, rec, now) } else redis.call('ZREM', K.dead, id) end
    end
  end
  offset = offset + limit
end
return out
