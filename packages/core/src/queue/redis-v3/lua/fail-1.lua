--[[
  Records failed attempts of in-flight commands of one shard. Retryable: back to the head of
  its device's line (its score kept) and the device waits until retryAt; dead after
  maxAttempts, expired when its TTL passed. Not retryable: rejected.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] retentionMs   ARGV[3] n
  ARGV[4] backoff baseMs   ARGV[5] backoff maxMs   ARGV[6] jitter   ARGV[7] claim memory (ms)
  ARGV[8] keep payload ('1'|'0')
  then 8 per item: id, leaseToken, error, retryable ('1'|'0'), delayMs ('' = backoff), random,
                   replica ('' none: the attempt did not reach the device, no delivered event),
                   the id as events hold it (16 bytes)

  Returns per item {code, status}: 0 OK (also for a re-run by the same token), -1 NOT_FOUND,
  -2 LEASE_LOST.
]]
-- @include v3

local maxInFlight, retentionMs, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local baseMs, maxMs, jitter, memoryMs, keepPayload = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8] == '1'

-- Same formula as backoffDelayMs() in queue.ts ("equal jitter"), for the attempt that failed.
local function backoffMs(attempt, random)
  local exp = math.min(maxMs, baseMs * 2 ^ math.max(0, attempt - 1))
  return math.floor(exp * (1 - jitter) + exp * jitter * random + 0.5)
end
local now = nowMs()
local out, devs, leases, finished, returned, firstRetry = {}, {}, {}, 0, 0, NEVER
for i = 1, n do
  local b = 8 + (i - 1) * 8
  local id, token, err, retryable, delayMs = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], tonumber(ARGV[b + 5])
  local random, cid = tonumber(ARGV[b + 6]), ARGV[b + 8]
  local rec = findRecord(id)
  if not rec then
    out[i] = { NOT_FOUND, '' }
  else
    local phyId, fixedEnd = recPhy(rec)
    local d = devs[phyId]
    if not d then
      d = readDev(phyId)
      devs[phyId] = d
    end
    local at = recStatus(rec) == QUEUED and inflightIndex(d, id)
    if at and d.inflight[at][2] == token then
      table.remove(d.inflight, at)
      leaseDone(leases, token)
      local attempts = recAttempts(rec) + 1
      local attemptText = int(attempts)
      if ARGV[b + 7] ~= '' then commandEvent('d', id, phyId, attemptText, { 'r', ARGV[b + 7] }, cid) end
      local status
      if retryable ~= '1' then
        status = REJECTED
      elseif now >= recExpiresAt(rec) then
        status = EXPIRED
      elseif attempts >= recMaxAttempts(rec) then
        status = DEAD
      else
        status = QUEUED
      end
      if status == QUEUED then
        local retryAt = now + (delayMs or backoffMs(attempts, random))
        commandEvent('r', id, phyId, attemptText, { 'e', err, 'w', int(retryAt) }, cid)
        rcall('SET', cmdKey(id), rewrite(rec, QUEUED, attempts, now, token, err, nil, nil, id))
        rcall('ZADD', lineKey(phyId), int(recScore(rec)), id)
        noteExpiry(phyId, recExpiresAt(rec))
        if retryAt > d.backoff then
          d.backoff = retryAt
          rcall('ZADD', K.backoff, int(retryAt), phyId)
          if retryAt < firstRetry then firstRetry = retryAt end
        end
        returned = returned + 1
      else
        commandEvent(status == REJECTED and 'j' or status == EXPIRED and 'e' or 'x', id, phyId, attemptText, { 'e', err }, cid)
        finishRecord(id, rec, status, attempts, now, retentionMs, token, err, keepPayload, nil, false, fixedEnd)
        d.pending = d.pending - 1
        finished = finished + 1
      end
      out[i] = { OK, STATUS_NAME[status] }
    elseif token ~= '' and sameHolder(recTail(rec, fixedEnd), token) then
      out[i] = { OK, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
    else
      out[i] = { LEASE_LOST, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
    end
  end
end
for phyId, d in pairs(devs) do
  refresh(phyId, d, now, maxInFlight)
  writeDev(phyId, d)
end
if finished + returned > 0 then
  closeLeases(leases, memoryMs)
  local meta = readMeta()
  meta.size, meta.inflight = meta.size - finished, meta.inflight - finished - returned
  if firstRetry < meta.due then meta.due = firstRetry end
  writeMeta(meta)
end
expireBuckets(retentionMs)
return out
