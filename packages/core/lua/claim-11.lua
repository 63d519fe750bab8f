--[[
  Claims up to ARGV[1] ready commands of one shard, highest priority then oldest first,
  at most maxInFlightPerDevice per device. Promotes due scheduled commands and ended
  retry waits first, and expires (instead of sending) heads whose TTL passed.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  KEYS[11]   <prefix>:{s}:claim:<requestId>  list of what this request claimed
  ARGV[1] max   ARGV[2] leaseMs   ARGV[3] maxInFlightPerDevice
  ARGV[4] requestId (also the lease token of every command claimed by this request)
  ARGV[5] how long to remember the request (ms)   ARGV[6] retentionMs

  Returns a list of 12 fields per claimed command: id, phyId, payload, priority, attempts,
  maxAttempts, ackTimeoutMs, expiresAt, createdAt, leaseToken, leaseExpiresAt, score.
  Safe to run twice: a re-run with the same requestId claims nothing new and answers the
  commands the first run claimed that this token still holds.
]]
-- @include shard

local max, leaseMs, maxInFlight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local token, rememberMs, retentionMs = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local now = nowMs()
local FIELDS = { 'id', 'phyId', 'payload', 'priority', 'attempts', 'maxAttempts', 'ackTimeoutMs',
  'expiresAt', 'createdAt', 'leaseToken', 'leaseExpiresAt', 'score' }

local function answer(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local f = redis.call('HMGET', cmdKey(id), unpack(FIELDS))
    if f[1] and f[10] == token then
      for j = 1, #FIELDS do table.insert(out, f[j]) end
    end
  end
  return out
end

local prior = redis.call('LRANGE', KEYS[11], 0, -1)
if #prior > 0 then return answer(prior) end

promoteDue(now, maxInFlight, 1000)
local claimed = {}
while #claimed < max do
  local top = redis.call('ZRANGE', K.ready, 0, 0)
  if #top == 0 then break end
  local phyId = top[1]
  local head = redis.call('ZRANGE', lineKey(phyId), 0, 0)
  if #head > 0 then
    local id = head[1]
    local key = cmdKey(id)
    local expiresAt = tonumber(redis.call('HGET', key, 'expiresAt'))
    if not expiresAt then
      redis.call('ZREM', lineKey(phyId), id) -- index entry without a record: drop it
    elseif expiresAt <= now then
      finish(id, phyId, 'expired', now, retentionMs, { 'lastError', 'ttl passed before delivery' })
    else
      local leaseExpiresAt = now + leaseMs
      redis.call('ZREM', lineKey(phyId), id)
      redis.call('SADD', inflightKey(phyId), id)
      redis.call('ZADD', K.leases, leaseExpiresAt, id)
      redis.call('HINCRBY', key, 'attempts', 1)
      redis.call('HSET', key, 'status', 'inflight', 'leaseToken', token, 'doneToken', '',
        'leaseExpiresAt', leaseExpiresAt, 'updatedAt', now, 'retryAt', '')
      table.insert(claimed, id)
    end
  end
  refreshDevice(phyId, now, maxInFlight)
end
if #claimed > 0 then
  redis.call('RPUSH', KEYS[11], unpack(claimed))
  redis.call('PEXPIRE', KEYS[11], rememberMs)
end
return answer(claimed)
