--[[
  Returns commands whose lease expired to the head of their device's line. The attempt the
  claim counted stays spent; the old token is refused from now on. After maxAttempts the
  command is dead; past its TTL it is expired. Atomic, so any number of reapers may run it.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] limit (claim batches)   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs
  ARGV[4] wake channel   ARGV[5] claim memory (ms)   ARGV[6] keep payload ('1'|'0')
  Returns the number of commands taken back.
]]
-- @include v3

local limit, maxInFlight, retentionMs, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local memoryMs, keepPayload = ARGV[5], ARGV[6] == '1'
local now = nowMs()
local tokens = rcall('ZRANGEBYSCORE', K.leases, '-inf', now, 'LIMIT', 0, limit)
local count, finished, devs = 0, 0, {}
for _, token in ipairs(tokens) do
  local ids = rcall('HGET', claimKey(token), 'ids') or ''
  for p = 1, #ids, 36 do
    local id = ssub(ids, p, p + 35)
    local rec = rcall('GET', cmdKey(id))
    if rec and recStatus(rec) == QUEUED then
      local phyId = recPhy(rec)
      local d = devs[phyId]
      if not d then
        d = readDev(phyId)
        devs[phyId] = d
      end
      local at = inflightIndex(d, id)
      if at and d.inflight[at][2] == token then
        table.remove(d.inflight, at)
        local attempts = recAttempts(rec) + 1
        if now >= recExpiresAt(rec) then
          commandEvent('e', id, phyId, int(attempts), { 'e', 'lease expired after the TTL passed' })
          finishRecord(id, rec, EXPIRED, attempts, now, retentionMs, '', 'lease expired after the TTL passed', keepPayload)
          d.pending = d.pending - 1
          finished = finished + 1
        elseif attempts >= recMaxAttempts(rec) then
          commandEvent('x', id, phyId, int(attempts), { 'e', 'lease expired without an outcome (last attempt)' })
          finishRecord(id, rec, DEAD, attempts, now, retentionMs, '', 'lease expired without an outcome (last attempt)', keepPayload)
          d.pending = d.pending - 1
          finished = finished + 1
        else
          commandEvent('r', id, phyId, int(attempts), { 'e', 'lease expired without an outcome', 'w', int(now) })
          rcall('SET', cmdKey(id), rewrite(rec, QUEUED, attempts, now, '', 'lease expired without an outcome', nil, nil, id))
          rcall('ZADD', lineKey(phyId), int(recScore(rec)), id)
          noteExpiry(phyId, recExpiresAt(rec))
        end
        count = count + 1
      end
    end
  end
  rcall('ZREM', K.leases, token)
  rcall('PEXPIRE', claimKey(token), memoryMs)
end
local wake = false
for phyId, d in pairs(devs) do
  if refresh(phyId, d, now, maxInFlight) then wake = true end
  writeDev(phyId, d)
end
if count > 0 then
  local meta = readMeta()
  meta.size, meta.inflight = meta.size - finished, meta.inflight - count
  writeMeta(meta)
end
expireBuckets(retentionMs)
if wake then publishWake(channel) end
return count
