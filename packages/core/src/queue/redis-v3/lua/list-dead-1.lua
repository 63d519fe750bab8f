--[[
  Dead letters after a cursor, oldest death first, that match the filter. At most `budget`
  entries are examined, so a filter that matches few costs one bounded step: the reply then
  says where the examination stopped.
  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] after score ('-inf' from the start)   ARGV[2] after id   ARGV[3] limit
  ARGV[4] until score ('+inf' or '(<ms>')   ARGV[5] phyId ('' any)   ARGV[6] reason prefix ('' any)
  ARGV[7] budget (entries examined)   ARGV[8] '1': answer ids only
  Returns {items, stopScore, stopId}: items {deadAt, {id, record, 0, ''} or id}; stopScore/stopId
  are '' unless the budget ran out before `limit` items or the end.
]]
-- @include v3

local afterScore, afterId, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local untilScore, phyId, reason, budget, idsOnly = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'
local now = nowMs()
local out = {}
local offset, examined = 0, 0
local stopScore, stopId = '', ''
local size = math.max(limit, 50)
while #out < limit do
  if examined >= budget then break end
  local page = rcall('ZRANGEBYSCORE', K.dead, afterScore, untilScore, 'WITHSCORES', 'LIMIT', offset, size)
  if #page == 0 then break end
  local removed = 0
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if #out < limit and examined < budget and not (score == afterScore and id <= afterId) then
      examined = examined + 1
      stopScore, stopId = score, id
      local rec = rcall('GET', cmdKey(id))
      if not rec then
        rcall('ZREM', K.dead, id)
        removed = removed + 1
      else
        local recPhyId, fixedEnd = recPhy(rec)
        local matches = phyId == '' or recPhyId == phyId
        if matches and reason ~= '' then
          local _, err = recTail(rec, fixedEnd)
          matches = string.sub(err, 1, #reason) == reason
        end
        if matches then
          if idsOnly then out[#out + 1] = { score, id } else out[#out + 1] = { score, view(id, rec, now) } end
        end
      end
    end
  end
  offset = offset + size - removed
end
if #out >= limit or examined < budget then stopScore, stopId = '', '' end
return { out, stopScore, stopId }
