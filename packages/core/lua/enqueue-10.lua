--[[
  Enqueues commands for devices of one shard (one call per shard per batch).

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] perDeviceCap   ARGV[3] shardCap (globalCap / shards)
  ARGV[4] retentionMs            ARGV[5] wake channel   ARGV[6] n items
  then 9 per item: id, phyId, payload, priority, ttlMs, ackTimeoutMs, maxAttempts,
                   idempotencyKey ('' none), deliverAt (epoch ms, '' none)

  Returns per item {code, id, status}:
     0 created (or the same id already exists: a re-sent script answers as before)
     1 DUPLICATE: the idempotency key already named `id`
    -3 DEVICE_FULL, -4 QUEUE_FULL: nothing was written for that item
  Publishes on the wake channel when a command became ready.
]]
-- @include shard

local maxInFlight, perDeviceCap, shardCap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local retentionMs, channel, n = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local now = nowMs()
local out, wake = {}, false
local nextSeq = takeSeq(n) -- unused numbers (duplicates, full) are harmless gaps

for i = 1, n do
  local b = 6 + (i - 1) * 9
  local id, phyId, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local priority, ttlMs, ackTimeoutMs, maxAttempts = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), ARGV[b + 6], ARGV[b + 7]
  local idem, deliverAt = ARGV[b + 8], tonumber(ARGV[b + 9])
  local key = cmdKey(id)
  local existing = redis.call('HGET', key, 'status')
  local first = nil
  local idemRef = nil
  if idem ~= '' then
    idemRef = idempotencyKeyOf(phyId, idem)
    first = redis.call('GET', idemRef)
  end
  if existing then
    out[i] = { OK, id, existing }
  elseif first and redis.call('EXISTS', cmdKey(first)) == 1 then
    out[i] = { DUPLICATE, first, redis.call('HGET', cmdKey(first), 'status') }
  elseif (tonumber(redis.call('HGET', K.deviceCounts, phyId)) or 0) >= perDeviceCap then
    out[i] = { DEVICE_FULL, id, '' }
  elseif (tonumber(redis.call('HGET', K.meta, 'size')) or 0) >= shardCap then
    out[i] = { QUEUE_FULL, id, '' }
  else
    local score = (9 - priority) * PRIORITY_STEP + nextSeq + i - 1
    local expiresAt = now + ttlMs
    local scheduled = deliverAt ~= nil and deliverAt > now
    redis.call('HSET', key,
      'id', id, 'phyId', phyId, 'payload', payload, 'priority', priority, 'attempts', 0,
      'maxAttempts', maxAttempts, 'ackTimeoutMs', ackTimeoutMs, 'ttlMs', ttlMs,
      'createdAt', now, 'updatedAt', now, 'expiresAt', expiresAt, 'deliverAt', ARGV[b + 9],
      'idempotencyKey', idem, 'status', 'queued', 'lastError', '', 'score', score,
      'leaseToken', '', 'doneToken', '', 'leaseExpiresAt', '', 'retryAt', '')
    redis.call('HINCRBY', K.deviceCounts, phyId, 1)
    redis.call('HINCRBY', K.meta, 'size', 1)
    redis.call('ZADD', K.expiry, expiresAt, id)
    if scheduled then
      redis.call('ZADD', K.scheduled, deliverAt, id)
      redis.call('ZADD', deviceScheduledKey(phyId), deliverAt, id)
    else
      redis.call('ZADD', lineKey(phyId), score, id)
      if refreshDevice(phyId, now, maxInFlight) then wake = true end
    end
    if idemRef then redis.call('SET', idemRef, id, 'PX', ttlMs + retentionMs) end
    out[i] = { OK, id, 'queued' }
  end
end
if wake then redis.call('PUBLISH', channel, 'enqueue') end
return out
