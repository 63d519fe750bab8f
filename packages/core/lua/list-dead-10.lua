--[[
  A page of dead letters of one shard, oldest death first, strictly after the cursor, that
  match the filter. At most `budget` entries are examined, so a filter that matches few
  costs one bounded step: the reply then says where the examination stopped.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] after score ('-inf' for the first page)   ARGV[2] after id ('' none)   ARGV[3] limit
  ARGV[4] until score ('+inf' or '(<ms>')   ARGV[5] phyId ('' any)   ARGV[6] reason prefix ('' any)
  ARGV[7] budget (entries examined)   ARGV[8] '1': answer ids only
  Returns {items, stopScore, stopId}: items {deadAt, record (a flat field/value list) or id};
  stopScore/stopId are '' unless the budget ran out before `limit` items or the end.
]]
-- @include shard

local afterScore, afterId, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local untilScore, phyId, reason, budget, idsOnly = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'
local now = nowMs()
local out = {}
local offset, examined = 0, 0
local stopScore, stopId = '', ''
local size = math.max(limit, 50)
while #out < limit do
  if examined >= budget then break end
  local page = redis.call('ZRANGEBYSCORE', K.dead, afterScore, untilScore, 'WITHSCORES', 'LIMIT', offset, size)
  if #page == 0 then break end
  local removed = 0
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if #out < limit and examined < budget and not (score == afterScore and id <= afterId) then
      examined = examined + 1
      stopScore, stopId = score, id
      local f = redis.call('HMGET', cmdKey(id), 'phyId', 'lastError')
      if not f[1] then
        redis.call('ZREM', K.dead, id)
        removed = removed + 1
      elseif (phyId == '' or f[1] == phyId) and (reason == '' or string.sub(f[2] or '', 1, #reason) == reason) then
        if idsOnly then
          out[#out + 1] = { score, id }
        else
          local rec = readRecord(id, now)
          if rec then out[#out + 1] = { score, rec } end
        end
      end
    end
  end
  offset = offset + size - removed
end
if #out >= limit or examined < budget then stopScore, stopId = '', '' end
return { out, stopScore, stopId }
