--[[
  Enqueues commands for devices of one shard (one call per shard per batch).

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] perDeviceCap   ARGV[3] shardCap (globalCap / shards)
  ARGV[4] retentionMs            ARGV[5] wake channel   ARGV[6] n items
  then 10 per item: id, phyId, priority, ttlMs, deliverAt (epoch ms, '' none),
                   idempotencyKey ('' none), fingerprint, packed fixed part (from byte 39 of
                   the record: records-v3.ts), payload, the id as events hold it (16 bytes)
  then depth: how many of the shard's best claimable scores to answer (0 none), the request
  token (unique per call) and how long to remember it (ms)

  Returns {items, scores}: per item {code, id, status}: 0 created (or, in a re-sent script,
  the id exists, even finished since: answered as it is now), 1 DUPLICATE (the key named `id` with the same
  fingerprint), -6 IDEMPOTENCY_CONFLICT (the key names `id`, stored with another
  fingerprint), -3 DEVICE_FULL, -4 QUEUE_FULL (nothing written for that item).

  Cost: one SET and one ZADD (its line) per command, then per device one HGET and one HSET of
  its state, and per call one ZADD each of ready and expiry and the SET of its request token
  (a re-sent script finds it and looks each id up instead of writing it again).
]]
-- @include v3

local maxInFlight, perDeviceCap, shardCap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local retentionMs, channel, n = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local depth = tonumber(ARGV[7 + 10 * n]) or 0
local now, nowUs = clockNow()
local rerun = not redis.call('SET', K.prefix .. 'enq:' .. ARGV[8 + 10 * n], '1', 'NX', 'PX', ARGV[9 + 10 * n])
local meta = readMeta()
local nextSeq = takeSeq(meta, n, nowUs)
local out, devs, heads, expiries = {}, {}, {}, {}
local tail = string.char(0) .. spack('>H', 0)

for i = 1, n do
  local b = 6 + (i - 1) * 10
  local id, phyId, priority, ttlMs = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local deliverAt, idem, fingerprint, fixed, payload = tonumber(ARGV[b + 5]), ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9]
  local key = cmdKey(id)
  local idemRef, first = nil, nil
  if idem ~= '' then
    idemRef = K.prefix .. 'idem:' .. #phyId .. ':' .. phyId .. ':' .. idem
    first = redis.call('GET', idemRef)
  end
  local firstRec = first and first ~= id and findRecord(first)
  if firstRec then
    local stored = recFingerprint(firstRec)
    if stored ~= '' and stored ~= fingerprint then
      out[i] = { IDEMPOTENCY_CONFLICT, first, statusOf(first, firstRec) }
    else
      out[i] = { DUPLICATE, first, statusOf(first, firstRec) }
    end
  else
    local d = devs[phyId]
    if not d then
      d = readDev(phyId)
      devs[phyId] = d
    end
    local full = d.pending + 1 > perDeviceCap and DEVICE_FULL or meta.size >= shardCap and QUEUE_FULL
    -- An id exists only when this script was sent twice (ioredis re-sends after a reconnect):
    -- only a re-sent script looks, so the usual path needs no read per command.
    local existing = rerun and findRecord(id)
    local score = (9 - priority) * PRIORITY_STEP + nextSeq + i - 1
    local expiresAt = now + ttlMs
    if existing then
      out[i] = { OK, id, statusOf(id, existing) }
    elseif full then
      out[i] = { full, id, '' }
    else
      local event = packEventId(appendEvent('q', ARGV[b + 10], phyId, '', ARGV[b + 3], ''))
      redis.call('SET', key, spack('>BBI4dddd', deliverAt and 2 or 0, QUEUED, 0, now, now, expiresAt, score)
        .. fixed .. tail .. spack('>I4', #payload) .. payload .. event)
      d.pending = d.pending + 1
      meta.size = meta.size + 1
      if deliverAt ~= nil and deliverAt > now then
        redis.call('ZADD', K.scheduled, int(deliverAt), id)
        if deliverAt < meta.due then meta.due = deliverAt end
        redis.call('ZADD', schedKey(phyId), deliverAt, id)
      else
        redis.call('ZADD', lineKey(phyId), int(score), id)
        if not heads[phyId] or score < heads[phyId] then heads[phyId] = score end
      end
      if not expiries[phyId] or expiresAt < expiries[phyId] then expiries[phyId] = expiresAt end
      if idemRef then redis.call('SET', idemRef, id, 'PX', int(ttlMs + retentionMs)) end
      out[i] = { OK, id, 'queued' }
    end
  end
end

-- A device that may be sent to is in `ready` at its head's score, or its line was empty: so
-- ZADD LT with the best new score is exact.
local readyArgs, expiryArgs, wake = { 'LT' }, { 'LT' }, false
for phyId, score in pairs(heads) do
  local d = devs[phyId]
  if not (d.backoff > now or d.offline == 1 or #d.inflight >= maxInFlight) then
    readyArgs[#readyArgs + 1] = int(score)
    readyArgs[#readyArgs + 1] = phyId
    wake = true
  end
end
for phyId, expiresAt in pairs(expiries) do
  expiryArgs[#expiryArgs + 1] = int(expiresAt)
  expiryArgs[#expiryArgs + 1] = phyId
end
if #readyArgs > 1 then redis.call('ZADD', K.ready, unpack(readyArgs)) end
if #expiryArgs > 1 then redis.call('ZADD', K.expiry, unpack(expiryArgs)) end
for phyId, d in pairs(devs) do writeDev(phyId, d) end
writeMeta(meta)
if wake then publishWake(channel) end
return { out, bestScores(maxInFlight, depth) }
