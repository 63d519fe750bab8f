--[[
  Cancels a queued command (not one in flight or finished).
  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] id   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs   ARGV[4] keep payload ('1'|'0')
  ARGV[5] the id as events hold it (16 bytes)
  Returns {code, status}: 0 OK, -1 NOT_FOUND, -5 INVALID_STATE (status is the current one).
]]
-- @include v3

local id, maxInFlight, retentionMs, keepPayload = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local now = nowMs()
local rec = findRecord(id, now, retentionMs)
if not rec then return { NOT_FOUND, '' } end
local status = recStatus(rec)
if status == CANCELLED then return { OK, 'cancelled' } end
if status ~= QUEUED then return { INVALID_STATE, STATUS_NAME[status] } end
local phyId = recPhy(rec)
local d = readDev(phyId)
if inflightIndex(d, id) then return { INVALID_STATE, 'inflight' } end
rcall('ZREM', lineKey(phyId), id)
rcall('ZREM', schedKey(phyId), id)
rcall('ZREM', K.scheduled, id)
commandEvent('c', id, phyId, nil, nil, ARGV[5])
finishRecord(id, rec, CANCELLED, recAttempts(rec), now, retentionMs, '', 'cancelled by the caller', keepPayload)
d.pending = d.pending - 1
refresh(phyId, d, now, maxInFlight)
writeDev(phyId, d)
local meta = readMeta()
meta.size = meta.size - 1
writeMeta(meta)
expireBuckets(retentionMs)
return { OK, 'cancelled' }
