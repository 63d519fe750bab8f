--[[
  Records failed attempts of in-flight commands of one shard.
  retryable: back to the head of its device's line at its original score, and the device
  waits until retryAt (status queued, waitingFor backoff); dead after maxAttempts (kept
  until replayed or purged) and expired when its TTL passed. Not retryable: rejected.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] retentionMs   ARGV[3] n
  ARGV[4] backoff baseMs   ARGV[5] backoff maxMs   ARGV[6] jitter (0..1 share that is random)
  then 7 per item: id, leaseToken, error, retryable ('1'|'0'),
                   delayMs ('' = exponential backoff for the attempt that failed), random (0..1),
                   replica ('' none: the attempt did not reach the device, no delivered event)

  Returns per item {code, status}: 0 OK (also for a re-run by the same token), -1 NOT_FOUND,
  -2 LEASE_LOST.
]]
-- @include shard

local maxInFlight, retentionMs, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local baseMs, maxMs, jitter = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- Same formula as backoffDelayMs() in queue.ts ("equal jitter"), for the attempt that failed.
local function backoffMs(attempt, random)
  local exp = math.min(maxMs, baseMs * 2 ^ math.max(0, attempt - 1))
  return math.floor(exp * (1 - jitter) + exp * jitter * random + 0.5)
end
local now = nowMs()
local out = {}
for i = 1, n do
  local b = 6 + (i - 1) * 7
  local id, token, err, retryable, delayMs = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], tonumber(ARGV[b + 5])
  local random = tonumber(ARGV[b + 6])
  local code, info = checkLease(id, token)
  if code == OK then
    local phyId = info
    local key = cmdKey(id)
    local f = redis.call('HMGET', key, 'attempts', 'maxAttempts', 'expiresAt', 'score')
    local status
    local done = { 'doneToken', token, 'leaseToken', '', 'lastError', err }
    -- the delivered event (when the attempt reached the device), then the outcome's
    local events = {}
    if ARGV[b + 7] ~= '' then events[1] = { 'd', { 'r', ARGV[b + 7] } } end
    if retryable ~= '1' then
      status = 'rejected'
      finish(id, phyId, status, now, retentionMs, done)
      events[#events + 1] = { 'j', { 'e', err } }
    elseif now >= tonumber(f[3]) then
      status = 'expired'
      finish(id, phyId, status, now, retentionMs, done)
      events[#events + 1] = { 'e', { 'e', err } }
    elseif tonumber(f[1]) >= tonumber(f[2]) then
      status = 'dead'
      finish(id, phyId, status, now, retentionMs, done)
      events[#events + 1] = { 'x', { 'e', err } }
    else
      status = 'queued'
      local retryAt = now + (delayMs or backoffMs(tonumber(f[1]), random))
      returnToLine(id, phyId, f[4])
      redis.call('HSET', key, 'status', 'queued', 'updatedAt', now, 'leaseExpiresAt', '', 'retryAt', retryAt, unpack(done))
      local current = tonumber(redis.call('ZSCORE', K.backoff, phyId))
      if not current or current < retryAt then redis.call('ZADD', K.backoff, retryAt, phyId) end
      events[#events + 1] = { 'r', { 'e', err, 'w', int(retryAt) } }
    end
    commandEvents(id, phyId, f[1], events)
    refreshDevice(phyId, now, maxInFlight)
    out[i] = { OK, status }
  elseif code == REPLAYED then
    out[i] = { OK, info }
  else
    out[i] = { code, info }
  end
end
return out
