--[[
  Imports commands into one shard of the Redis queue with their ids intact
  (outbound migrate-queue). Runs with the queue's shard include, so every index the queue's
  own scripts keep (line, scheduled, expiry, dead, counts, idempotency) is kept the same way.

  KEYS[1..10]: the shard keys (see packages/core/lua/includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] retentionMs   ARGV[3] wake channel   ARGV[4] n
  then 14 per item: id, phyId, payload, priority, attempts, maxAttempts, ackTimeoutMs, ttlMs,
                    createdAt, expiresAt, deliverAt ('' none), idempotencyKey ('' none),
                    status ('queued' | 'dead'), lastError ('' none)

  Returns per item 1 (written) or 0 (the id exists: an earlier run wrote it; nothing changes).
  Items arrive in enqueue order; each takes the shard's next sequence number, so a device's
  line keeps its order.
]]
-- @include shard

local maxInFlight, retentionMs, channel, n = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local now = nowMs()
local out, wake = {}, false
for i = 1, n do
  local b = 4 + (i - 1) * 14
  local id, phyId, payload = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local priority = tonumber(ARGV[b + 4])
  local expiresAt, deliverAt = tonumber(ARGV[b + 10]), tonumber(ARGV[b + 11])
  local idem, status, lastError = ARGV[b + 12], ARGV[b + 13], ARGV[b + 14]
  local key = cmdKey(id)
  if redis.call('EXISTS', key) == 1 then
    out[i] = 0
  else
    local seq = takeSeq(1) -- the shard's microsecond sequence: import order = order across shards too
    local score = (9 - priority) * PRIORITY_STEP + seq
    redis.call('HSET', key,
      'id', id, 'phyId', phyId, 'payload', payload, 'priority', priority, 'attempts', ARGV[b + 5],
      'maxAttempts', ARGV[b + 6], 'ackTimeoutMs', ARGV[b + 7], 'ttlMs', ARGV[b + 8],
      'createdAt', ARGV[b + 9], 'updatedAt', now, 'expiresAt', expiresAt, 'deliverAt', ARGV[b + 11],
      'idempotencyKey', idem, 'status', status, 'lastError', lastError, 'score', score,
      'leaseToken', '', 'doneToken', '', 'leaseExpiresAt', '', 'retryAt', '')
    if status == 'dead' then
      redis.call('ZADD', K.dead, now, id)
    else
      redis.call('HINCRBY', K.deviceCounts, phyId, 1)
      redis.call('HINCRBY', K.meta, 'size', 1)
      redis.call('ZADD', K.expiry, expiresAt, id)
      if deliverAt ~= nil and deliverAt > now then
        redis.call('ZADD', K.scheduled, deliverAt, id)
        redis.call('ZADD', deviceScheduledKey(phyId), deliverAt, id)
      else
        redis.call('ZADD', lineKey(phyId), score, id)
        if refreshDevice(phyId, now, maxInFlight) then wake = true end
      end
      if idem ~= '' then
        redis.call('SET', idempotencyKeyOf(phyId, idem), id, 'PX', math.max(1, expiresAt - now) + retentionMs)
      end
    end
    out[i] = 1
  end
end
if wake then redis.call('PUBLISH', channel, 'import') end
return out
