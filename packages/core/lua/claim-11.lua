--[[
  Claims up to ARGV[1] ready commands of one shard, highest priority then oldest first,
  at most maxInFlightPerDevice per device. Promotes due scheduled commands and ended
  retry waits first, and expires (instead of sending) heads whose TTL passed.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  KEYS[11]   <prefix>:{s}:claim:<requestId>  string: the ids this request claimed, concatenated
  ARGV[1] max   ARGV[2] leaseMs   ARGV[3] maxInFlightPerDevice
  ARGV[4] requestId (also the lease token of every command claimed by this request)
  ARGV[5] how long to remember the request (ms)   ARGV[6] retentionMs
  ARGV[7] depth: how many of the shard's next best scores to answer after claiming (0 none)

  Returns {leaseExpiresAt, d, then d scores (the shard's best claimable commands left, best
  first, for the caller's next cross-shard plan), then 11 fields per claimed command: id,
  phyId, payload, priority, attempts, maxAttempts, ackTimeoutMs, expiresAt, createdAt,
  score, traceContext (nil none)}, best first; the lease token of every command is the requestId. max may be 0: the
  call then only promotes due work and answers the scores. Safe to run twice: a re-run with the same
  requestId claims nothing new and answers the commands the first run claimed that this
  token still holds.

  Cost: a device is in `ready` only while it may be sent to, scored by its head, so with
  maxInFlightPerDevice 1 the best `max` devices are one ZPOPMIN and each gives exactly its
  head (one ZPOPMIN of its line, one HMGET, one HSET, one SADD); leases and the request
  memory are written once per call.
]]
-- @include shard

local max, leaseMs, maxInFlight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local token, retentionMs, depth = ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[7]) or 0
local now = nowMs()
local leaseExpiresAt = int(now + leaseMs)
local nowText = int(now)

-- The request's memory is its claimed ids (36 characters each) in one string: one SET.
local prior = max > 0 and redis.call('GET', KEYS[11])
if prior then
  local out = { '', 0 }
  for p = 1, #prior, 36 do
    local id = string.sub(prior, p, p + 35)
    local f = redis.call('HMGET', cmdKey(id), 'phyId', 'payload', 'priority', 'attempts', 'maxAttempts',
      'ackTimeoutMs', 'expiresAt', 'createdAt', 'score', 'leaseToken', 'leaseExpiresAt', 'traceContext')
    if f[1] and f[10] == token then
      out[1] = f[11]
      local o = #out
      out[o + 1] = id
      for j = 1, 9 do out[o + 1 + j] = f[j] end
      out[o + 11] = f[12]
    end
  end
  return out
end

promoteDue(now, maxInFlight, 1000)
local out, claimed, leases = {}, {}, {}

-- Takes the head of a device that was in `ready`; answers false when the head was gone or
-- expired (the device was re-checked) and nothing was claimed.
local function take(phyId)
  local line = lineKey(phyId)
  local head = redis.call('ZPOPMIN', line)
  if #head == 0 then
    refreshDevice(phyId, now, maxInFlight)
    return false
  end
  local id, score = head[1], head[2]
  local key = cmdKey(id)
  local f = redis.call('HMGET', key, 'payload', 'priority', 'attempts', 'maxAttempts', 'ackTimeoutMs', 'expiresAt', 'createdAt', 'traceContext')
  local expiresAt = tonumber(f[6])
  if not expiresAt then
    refreshDevice(phyId, now, maxInFlight) -- index entry without a record: dropped
    return false
  end
  if expiresAt <= now then
    finish(id, phyId, 'expired', now, retentionMs, { 'lastError', 'ttl passed before delivery' })
        commandEvent('e', id, phyId, nil, { 'e', 'ttl passed before delivery' })
    refreshDevice(phyId, now, maxInFlight)
    return false
  end
  local attempts = int((tonumber(f[3]) or 0) + 1)
  redis.call('SADD', inflightKey(phyId), id)
  redis.call('HSET', key, 'status', 'inflight', 'attempts', attempts, 'leaseToken', token, 'doneToken', '',
    'leaseExpiresAt', leaseExpiresAt, 'updatedAt', nowText, 'retryAt', '')
  claimed[#claimed + 1] = id
  leases[#leases + 1] = leaseExpiresAt
  leases[#leases + 1] = id
  local o = #out
  out[o + 1] = id; out[o + 2] = phyId; out[o + 3] = f[1]; out[o + 4] = f[2]; out[o + 5] = attempts
  out[o + 6] = f[4]; out[o + 7] = f[5]; out[o + 8] = f[6]; out[o + 9] = f[7]; out[o + 10] = score
  out[o + 11] = f[8]
  return true
end

if maxInFlight == 1 then
  -- Each ready device gives exactly its head, so the best `max` devices hold the best `max`
  -- commands; a device whose head expired is re-scored by its next command and competes again.
  while #claimed < max do
    local devices = redis.call('ZRANGE', K.ready, 0, max - #claimed - 1) -- no scores: each costs a float-to-text
    if #devices == 0 then break end
    redis.call('ZREMRANGEBYRANK', K.ready, 0, #devices - 1)
    for i = 1, #devices do take(devices[i]) end
  end
else
  while #claimed < max do
    local top = redis.call('ZPOPMIN', K.ready)
    if #top == 0 then break end
    take(top[1])
    refreshDevice(top[1], now, maxInFlight)
  end
end
if #claimed > 0 then
  redis.call('ZADD', K.leases, unpack(leases))
  redis.call('SET', KEYS[11], table.concat(claimed), 'PX', ARGV[5])
end
local scores = bestScores(maxInFlight, depth)
local reply = { leaseExpiresAt, #scores }
for i = 1, #scores do reply[i + 2] = scores[i] end
local o = #reply
for i = 1, #out do reply[o + i] = out[i] end
return reply
