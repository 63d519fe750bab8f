--[[
  Shared by every per-shard script (inlined by the loader at "-- @include shard").

  Every shard script takes the same ten shard keys first (built by keys.ts, one hash tag
  `{<shard>}` so they share one slot):
    KEYS[1]  <prefix>:{s}:           shard key prefix; per-command and per-device keys are
                                     this prefix + 'cmd:<id>' / 'dev:<phyId>:...' (same tag,
                                     same slot; keys.ts builds the same names for operators)
    KEYS[2]  <prefix>:{s}:ready      zset phyId -> score of the device's head command
    KEYS[3]  <prefix>:{s}:scheduled  zset id -> deliverAt (commands not yet due)
    KEYS[4]  <prefix>:{s}:backoff    zset phyId -> retryAt (device waits for a retry)
    KEYS[5]  <prefix>:{s}:offline    set of parked phyIds
    KEYS[6]  <prefix>:{s}:leases     zset id -> leaseExpiresAt (in-flight commands)
    KEYS[7]  <prefix>:{s}:expiry     zset id -> expiresAt (every pending command)
    KEYS[8]  <prefix>:{s}:dead       zset id -> time it died (dead letters)
    KEYS[9]  <prefix>:{s}:meta       hash: seq (FIFO sequence), size (pending commands)
    KEYS[10] <prefix>:{s}:device-counts  hash phyId -> pending (queued + in flight)

  Return codes (mirrored by script-codes.ts):
     0 OK, 1 DUPLICATE, -1 NOT_FOUND, -2 LEASE_LOST, -3 DEVICE_FULL, -4 QUEUE_FULL, -5 INVALID_STATE,
    -6 IDEMPOTENCY_CONFLICT
]]
local K = {
  prefix = KEYS[1], ready = KEYS[2], scheduled = KEYS[3], backoff = KEYS[4], offline = KEYS[5],
  leases = KEYS[6], expiry = KEYS[7], dead = KEYS[8], meta = KEYS[9], deviceCounts = KEYS[10],
}
-- Wake-up: the script's wake argument is '<channel>\n<origin>' (origin: the calling queue's id),
-- or just '<channel>'. The message is the shard prefix, then the origin after a newline, so
-- every claimer learns which shard changed and the caller can tell its own messages.
local function publishWake(arg)
  local channel, origin = string.match(arg, '^([^\n]+)\n(.+)$')
  if channel then
    redis.call('PUBLISH', channel, K.prefix .. '\n' .. origin)
  else
    redis.call('PUBLISH', arg, K.prefix)
  end
end
local OK, DUPLICATE, NOT_FOUND, LEASE_LOST, DEVICE_FULL, QUEUE_FULL, INVALID_STATE = 0, 1, -1, -2, -3, -4, -5
local IDEMPOTENCY_CONFLICT = -6
-- Transition already made by this same token (ioredis re-sent the script): answer as before.
local REPLAYED = 100
-- (9 - priority) * 2^49 + seq stays an exact integer in a double up to seq 2^49.
local PRIORITY_STEP = 562949953421312
-- seq is microseconds since 2025-01-01 (2^49 us lasts until 2042), never less than the shard's
-- last seq + 1: strictly increasing in a shard, and comparable across shards (merged claims
-- keep FIFO between devices of different shards to the microsecond of the Redis clock).
local SEQ_EPOCH_S = 1735689600

-- Hands out `count` sequence numbers; answers the first.
local function takeSeq(count)
  local t = redis.call('TIME')
  local us = (tonumber(t[1]) - SEQ_EPOCH_S) * 1000000 + tonumber(t[2])
  local first = math.max((tonumber(redis.call('HGET', K.meta, 'seq')) or 0) + 1, us)
  redis.call('HSET', K.meta, 'seq', first + count - 1)
  return first
end

-- An integer as text. redis.call turns a Lua number argument into text with '%.17g' (a
-- slow float conversion, ~19% of Redis' instructions in bench:queue before this): hot paths
-- pass text, made once.
local function int(n) return string.format('%d', n) end

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function cmdKey(id) return K.prefix .. 'cmd:' .. id end
local function lineKey(phyId) return K.prefix .. 'dev:' .. phyId .. ':line' end
local function inflightKey(phyId) return K.prefix .. 'dev:' .. phyId .. ':inflight' end
local function deviceScheduledKey(phyId) return K.prefix .. 'dev:' .. phyId .. ':scheduled' end
-- The phyId's length comes first, so where the phyId ends is never a guess: a phyId may hold
-- ':' (and a key anything), and 'idem:<phyId>:<key>' made (A:B, k) and (A, B:k) one key.
local function idempotencyKeyOf(phyId, key) return K.prefix .. 'idem:' .. #phyId .. ':' .. phyId .. ':' .. key end

-- Puts the device in the ready set at its head's score iff it may be sent to now: no retry
-- pending, online, fewer than maxInFlight outstanding, something queued. Returns true and the
-- head's score (a string) if ready, else false.
local function refreshDevice(phyId, now, maxInFlight)
  local due = redis.call('ZSCORE', K.backoff, phyId)
  if due then
    if tonumber(due) > now then
      redis.call('ZREM', K.ready, phyId)
      return false
    end
    redis.call('ZREM', K.backoff, phyId)
  end
  if redis.call('SISMEMBER', K.offline, phyId) == 1
    or redis.call('SCARD', inflightKey(phyId)) >= maxInFlight then
    redis.call('ZREM', K.ready, phyId)
    return false
  end
  local head = redis.call('ZRANGE', lineKey(phyId), '0', '0', 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', K.ready, phyId)
    return false
  end
  redis.call('ZADD', K.ready, head[2], phyId)
  return true, head[2]
end

-- Moves due scheduled commands into their device's line and ends due retry waits.
local function promoteDue(now, maxInFlight, limit)
  local nowText, limitText = int(now), int(limit)
  local ids = redis.call('ZRANGEBYSCORE', K.scheduled, '-inf', nowText, 'LIMIT', '0', limitText)
  for _, id in ipairs(ids) do
    redis.call('ZREM', K.scheduled, id)
    local f = redis.call('HMGET', cmdKey(id), 'phyId', 'score')
    if f[1] then
      redis.call('ZREM', deviceScheduledKey(f[1]), id)
      redis.call('ZADD', lineKey(f[1]), f[2], id)
      refreshDevice(f[1], now, maxInFlight)
    end
  end
  local devices = redis.call('ZRANGEBYSCORE', K.backoff, '-inf', nowText, 'LIMIT', '0', limitText)
  for _, phyId in ipairs(devices) do refreshDevice(phyId, now, maxInFlight) end
  return #ids + #devices
end

-- The scores of the best `depth` commands a claim would take from this shard now, best first
-- (strings): the ready devices' heads and, with maxInFlightPerDevice > 1, the next commands of
-- a device while it has free slots. A cross-shard claim merges these (claim-plan.ts).
local function bestScores(maxInFlight, depth)
  if depth <= 0 then return {} end
  if maxInFlight == 1 then
    -- A ready device gives exactly its head, scored in `ready`: one read answers.
    local flat = redis.call('ZRANGE', K.ready, '0', int(depth - 1), 'WITHSCORES')
    local out = {}
    for i = 2, #flat, 2 do out[i / 2] = flat[i] end
    return out
  end
  local scores = {}
  for _, phyId in ipairs(redis.call('ZRANGE', K.ready, 0, depth - 1)) do
    local free = maxInFlight - redis.call('SCARD', inflightKey(phyId))
    local line = redis.call('ZRANGE', lineKey(phyId), 0, math.min(free, depth) - 1, 'WITHSCORES')
    for i = 2, #line, 2 do scores[#scores + 1] = tonumber(line[i]) end
  end
  table.sort(scores)
  local out = {}
  for i = 1, math.min(depth, #scores) do out[i] = string.format('%.0f', scores[i]) end
  return out
end

-- Marks a command finished: one HSET of the status and `extra` (field, value pairs), then
-- dead letters stay until replayed or purged and every other final state is kept for
-- retentionMs. Answers how many pending commands the device has left.
local function closeRecord(id, phyId, status, now, retentionMs, extra)
  local key = cmdKey(id)
  local fields = { 'status', status, 'updatedAt', now, 'leaseExpiresAt', '', 'retryAt', '' }
  if extra then for i = 1, #extra do fields[#fields + 1] = extra[i] end end
  redis.call('HSET', key, unpack(fields))
  if status == 'dead' then
    redis.call('ZADD', K.dead, now, id)
  else
    redis.call('PEXPIRE', key, retentionMs)
  end
  local left = redis.call('HINCRBY', K.deviceCounts, phyId, '-1')
  if left <= 0 then redis.call('HDEL', K.deviceCounts, phyId) end
  return left
end

-- Takes a pending command out of every pending index and marks it finished. Dead letters
-- stay until replayed or purged; every other final state is kept for retentionMs.
local function finish(id, phyId, status, now, retentionMs, extra)
  redis.call('ZREM', K.expiry, id)
  redis.call('ZREM', K.leases, id)
  redis.call('ZREM', K.scheduled, id)
  redis.call('SREM', inflightKey(phyId), id)
  redis.call('ZREM', lineKey(phyId), id)
  redis.call('ZREM', deviceScheduledKey(phyId), id)
  redis.call('HINCRBY', K.meta, 'size', '-1')
  return closeRecord(id, phyId, status, now, retentionMs, extra)
end

-- Puts an in-flight command back in its device's line at its original score (head of line).
local function returnToLine(id, phyId, score)
  redis.call('SREM', inflightKey(phyId), id)
  redis.call('ZREM', K.leases, id)
  redis.call('ZADD', lineKey(phyId), score, id)
end

-- Checks that `token` holds the lease on `id`. Returns OK + phyId, REPLAYED + status (the same
-- holder already made its transition), NOT_FOUND, or LEASE_LOST + status.
local function checkLease(id, token)
  local f = redis.call('HMGET', cmdKey(id), 'status', 'leaseToken', 'doneToken', 'phyId')
  if not f[1] then return NOT_FOUND, '' end
  if f[1] == 'inflight' and f[2] == token then return OK, f[4] end
  if token ~= '' and f[3] == token then return REPLAYED, f[1] end
  return LEASE_LOST, f[1]
end

-- Why a queued command is not being sent right now ('' = it is not waiting).
local function waitingFor(id, status, phyId, retryAt, now)
  if status ~= 'queued' then return '' end
  if redis.call('ZSCORE', K.scheduled, id) then return 'schedule' end
  if redis.call('SISMEMBER', K.offline, phyId) == 1 then return 'device' end
  if retryAt and retryAt ~= '' and tonumber(retryAt) > now then return 'backoff' end
  return ''
end

-- The whole record as a flat field/value list, with the derived waitingFor appended.
local function readRecord(id, now)
  local all = redis.call('HGETALL', cmdKey(id))
  if #all == 0 then return nil end
  local map = {}
  for i = 1, #all, 2 do map[all[i]] = all[i + 1] end
  table.insert(all, 'waitingFor')
  table.insert(all, waitingFor(id, map.status, map.phyId, map.retryAt, now))
  return all
end

--[[
  The event log (docs/architecture.md, "Event log"): one stream per shard, K.prefix .. 'ev'
  (same hash tag, same slot), one entry per transition, written by the script that makes it.
  Callers name an entry's fields t type (q queued, d delivered, r retrying, a acked, j rejected,
  x dead, e expired, c cancelled, on device online, off device offline), c command id, p phyId,
  n attempt, r replica, e reason, w retryAt, o priority; logEvent writes them in the fixed
  layout below. The entry id's ms is the event's time.
  A command's record keeps the ids of its entries in 'ev' (space separated), so its timeline
  is read by id, not by scanning the stream.
]]
-- @include event-log
-- A command's events, in order ({type, extra fields or nil} each; extra: {r|e|o, detail} or
-- {e, reason, w, retryAt}), logged and noted on its
-- record with one HGET and one HSET. attempt nil: none.
local function commandEvents(id, phyId, attempt, events)
  local sids, cid = {}, packEventCommandId(id)
  for i, e in ipairs(events) do
    local extra = e[2]
    sids[i] = appendEvent(e[1], cid, phyId, attempt or '', extra and extra[2] or '', extra and extra[4] or '')
  end
  local key = cmdKey(id)
  local prior = redis.call('HGET', key, 'ev')
  local added = table.concat(sids, ' ')
  redis.call('HSET', key, 'ev', prior and prior ~= '' and (prior .. ' ' .. added) or added)
end
local function commandEvent(t, id, phyId, attempt, extra) commandEvents(id, phyId, attempt, { { t, extra } }) end
