--[[
  Enqueues commands for devices of one shard (one call per shard per batch).

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] perDeviceCap   ARGV[3] shardCap (globalCap / shards)
  ARGV[4] retentionMs            ARGV[5] wake channel   ARGV[6] n items
  then 11 per item: id, phyId, payload, priority, ttlMs, ackTimeoutMs, maxAttempts,
                    idempotencyKey ('' none), deliverAt (epoch ms, '' none),
                    fingerprint (of the payload and parameters, kept with a keyed command),
                    traceContext (W3C traceparent, '' none)
  then depth: how many of the shard's best claimable scores to answer (0 or missing: none)
  then, optional, a claim for a dispatch loop of the enqueuing process that waits for work with
  room: claimMax (0 or missing: none), leaseMs, requestId (the lease token), how long to remember
  the request (ms); the shard's keys are in this call's slot, so claiming here saves the claim
  round trip after the wake-up (includes/claim.lua, the same claim as claim-11.lua)

  Returns {items, scores}: per item {code, id, status}:
     0 created (or the same id already exists: a re-sent script answers as before)
     1 DUPLICATE: the idempotency key already named `id`, asked with the same fingerprint
    -6 IDEMPOTENCY_CONFLICT: the key names `id`, stored with another fingerprint
    -3 DEVICE_FULL, -4 QUEUE_FULL: nothing was written for that item (nor for a conflict)
  and the shard's best `depth` claimable scores after the enqueue (and the claim), so a
  dispatcher in the enqueuing process plans its next claim without asking this shard first
  (claim-plan.ts), and, when a claim was asked, the claim's reply as claim-11.lua answers it
  (with no scores). Publishes on the wake channel when a command became ready and is still
  ready after the claim.
]]
-- @include shard
-- @include claim

local maxInFlight, perDeviceCap, shardCap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local retentionMs, channel, n = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local depth = tonumber(ARGV[7 + 11 * n]) or 0
local now = nowMs()
local nowText = int(now)
local out, wake = {}, false
local nextSeq = takeSeq(n) -- unused numbers (duplicates, full) are harmless gaps
local size = tonumber(redis.call('HGET', K.meta, 'size')) or 0
local added, expiries = 0, {}
-- phyId -> the device's ready score (a number) or false when it is not ready, learnt in this
-- call: adding to the line of a device that is not ready (parked, busy, backing off) cannot
-- make it ready, and a ready device only needs a new score when the new command is its head.
local readyScore = {}

for i = 1, n do
  local b = 6 + (i - 1) * 11
  local id, phyId, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local priority, ttlMs, ackTimeoutMs, maxAttempts = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), ARGV[b + 6], ARGV[b + 7]
  local idem, deliverAt, fingerprint = ARGV[b + 8], tonumber(ARGV[b + 9]), ARGV[b + 10]
  local key = cmdKey(id)
  local existing = redis.call('HGET', key, 'status')
  local first = nil
  local idemRef = nil
  if idem ~= '' then
    idemRef = idempotencyKeyOf(phyId, idem)
    first = redis.call('GET', idemRef)
  end
  local count = 0
  if existing then
    out[i] = { OK, id, existing }
  elseif first and redis.call('EXISTS', cmdKey(first)) == 1 then
    local f = redis.call('HMGET', cmdKey(first), 'status', 'fingerprint')
    -- A record written before fingerprints were kept has none: it answers as a duplicate.
    if f[2] and f[2] ~= fingerprint then
      out[i] = { IDEMPOTENCY_CONFLICT, first, f[1] }
    else
      out[i] = { DUPLICATE, first, f[1] }
    end
  else
    count = redis.call('HINCRBY', K.deviceCounts, phyId, '1')
    if count > perDeviceCap or size >= shardCap then
      if count <= 1 then redis.call('HDEL', K.deviceCounts, phyId) else redis.call('HINCRBY', K.deviceCounts, phyId, -1) end
      out[i] = { count > perDeviceCap and DEVICE_FULL or QUEUE_FULL, id, '' }
      count = 0
    end
  end
  if count > 0 then
    local score = (9 - priority) * PRIORITY_STEP + nextSeq + i - 1
    local expiresAt = int(now + ttlMs)
    local scoreText = int(score)
    local scheduled = deliverAt ~= nil and deliverAt > now
    -- Empty fields are left out (a missing field reads as ''): fewer fields, a cheaper HSET.
    local fields = { 'id', id, 'phyId', phyId, 'payload', payload, 'priority', ARGV[b + 4], 'attempts', '0',
      'maxAttempts', maxAttempts, 'ackTimeoutMs', ackTimeoutMs, 'ttlMs', ARGV[b + 5], 'createdAt', nowText,
      'updatedAt', nowText, 'expiresAt', expiresAt, 'status', 'queued', 'score', scoreText }
    if deliverAt ~= nil then fields[#fields + 1] = 'deliverAt'; fields[#fields + 1] = ARGV[b + 9] end
    if idem ~= '' then
      fields[#fields + 1] = 'idempotencyKey'; fields[#fields + 1] = idem
      fields[#fields + 1] = 'fingerprint'; fields[#fields + 1] = fingerprint
    end
    local trace = ARGV[b + 11]
    if trace and trace ~= '' then fields[#fields + 1] = 'traceContext'; fields[#fields + 1] = trace end
    fields[#fields + 1] = 'ev'
    fields[#fields + 1] = logEvent({ 't', 'q', 'c', id, 'p', phyId, 'o', ARGV[b + 4] })
    redis.call('HSET', key, unpack(fields))
    size = size + 1
    added = added + 1
    expiries[#expiries + 1] = expiresAt
    expiries[#expiries + 1] = id
    if scheduled then
      redis.call('ZADD', K.scheduled, deliverAt, id)
      redis.call('ZADD', deviceScheduledKey(phyId), deliverAt, id)
    else
      redis.call('ZADD', lineKey(phyId), scoreText, id)
      local current = readyScore[phyId]
      if current == nil then
        current = tonumber(redis.call('ZSCORE', K.ready, phyId))
        if not current then
          local ready, head = refreshDevice(phyId, now, maxInFlight)
          current = ready and tonumber(head) or false
        end
      end
      if current and score < current then
        redis.call('ZADD', K.ready, scoreText, phyId)
        current = score
      end
      readyScore[phyId] = current
      if current then wake = true end
    end
    if idemRef then redis.call('SET', idemRef, id, 'PX', ttlMs + retentionMs) end
    out[i] = { OK, id, 'queued' }
  end
end
if added > 0 then
  redis.call('ZADD', K.expiry, unpack(expiries))
  redis.call('HINCRBY', K.meta, 'size', added)
end
local claimMax = tonumber(ARGV[8 + 11 * n]) or 0
local claim = nil
if claimMax > 0 then
  local token = ARGV[10 + 11 * n]
  local requestKey = K.prefix .. 'claim:' .. token
  claim = priorClaim(requestKey, token)
  if not claim then
    promoteDue(now, maxInFlight, 1000)
    local leaseExpiresAt, claimed = claimReady(claimMax, tonumber(ARGV[9 + 11 * n]), maxInFlight, token, ARGV[11 + 11 * n], retentionMs, requestKey, now)
    claim = { leaseExpiresAt, 0 }
    for i = 1, #claimed do claim[i + 2] = claimed[i] end
  end
  -- What the claim took needs no other claimer; what is left (or was ready before) does.
  wake = wake and redis.call('ZCARD', K.ready) > 0
end
if wake then publishWake(channel) end
if claim then return { out, bestScores(maxInFlight, depth), claim } end
return { out, bestScores(maxInFlight, depth) }
