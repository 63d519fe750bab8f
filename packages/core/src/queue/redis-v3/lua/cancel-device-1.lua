--[[
  Cancels a device's queued commands (its line and its scheduled ones; not those in flight),
  at most `limit` per call: the caller calls again while a call answers `limit`.
  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] phyId   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs   ARGV[4] keep payload ('1'|'0')
  ARGV[5] limit
  Logs command.cancelled for each. Returns the number cancelled.
]]
-- @include v3

local phyId, maxInFlight, retentionMs, keepPayload, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1', tonumber(ARGV[5])
local now = nowMs()
local d = readDev(phyId)
local count = 0
for _, index in ipairs({ lineKey(phyId), schedKey(phyId) }) do
  if count < limit then
    for _, id in ipairs(rcall('ZRANGE', index, 0, limit - count - 1)) do
      rcall('ZREM', index, id)
      local rec = rcall('GET', cmdKey(id))
      if rec and recStatus(rec) == QUEUED and not inflightIndex(d, id) then
        if index ~= lineKey(phyId) then rcall('ZREM', K.scheduled, id) end
        commandEvent('c', id, phyId)
        finishRecord(id, rec, CANCELLED, recAttempts(rec), now, retentionMs, '', 'cancelled by the caller', keepPayload)
        count = count + 1
      end
    end
  end
end
if count > 0 then
  d.pending = d.pending - count
  if d.pending <= #d.inflight then rcall('ZREM', K.expiry, phyId) end
  refresh(phyId, d, now, maxInFlight)
  writeDev(phyId, d)
  local meta = readMeta()
  meta.size = meta.size - count
  writeMeta(meta)
  expireBuckets(retentionMs)
end
return count
