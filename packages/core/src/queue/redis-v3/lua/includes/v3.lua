--[[
  Shared by every v3 shard script (inlined by the loader at "-- @include v3").

  KEYS[1]  <prefix>:v3:{s}:          shard prefix, the only key a script is given: every key of
                                     the shard is this prefix and a name. Per command and per
                                     device: 'c:<id>', 'line:<phyId>', 'sched:<phyId>',
                                     'idem:<len(phyId)>:<phyId>:<key>', 'claim:<token>'; per shard:
           ready      zset phyId -> score of the device's head (only while it may be sent to)
           dev        hash phyId -> packed device state (see readDev)
           meta       string, packed: seq, size (pending commands), inflight, due (the earliest
                      scheduled or retry time: claims skip promoting until then)
           leases     zset token -> leaseExpiresAt, one entry per claim batch
           scheduled  zset id -> deliverAt (commands not due yet)
           backoff    zset phyId -> retryAt (devices waiting for a retry)
           expiry     zset phyId -> earliest expiresAt of its queued commands (sparse, by device)
           dead       zset id -> time it died
           offline    set of parked phyIds (for paging; the device state carries the flag)
  All share the prefix's hash tag, so a Cluster routes the script by KEYS[1] to the slot that
  holds them all. Passing one key, not ten, saves Redis building ten Lua strings per call.

  A command is one string, written at enqueue and rewritten only when it goes back to its line
  (fail, release, reclaim) or finishes; claim and ack touch the device state, not the record:
    mutable head: B flags (1 payload dropped, 2 has deliverAt, 4 has result), B status,
                  I4 attempts, d updatedAt                                    (bytes 1..14)
    fixed:        d createdAt (15), d expiresAt (23), d score (31)
    from 39, as the caller packed it: B priority, I4 maxAttempts, d ackTimeoutMs, d ttlMs,
                  d deliverAt, I4 payload size, c8 payload hash, B+phyId, H+idempotencyKey,
                  B+fingerprint
                  H+traceContext (empty when none)
    tail:         B+doneToken, H+lastError, I4+payload, then I4+result when flag 4, then the
                  ids of the command's event log entries to the end, 10 bytes each (I6 ms, I4 seq)
  A finished command (not dead) whose id carries its creation minute (version nibble '7',
  minted by keys-v3.ts) moves, compacted (flag 128), into the hash `f:<minute>` of its shard
  under the rest of its id, and the hash expires as a whole retentionMs after its last
  finish (a read checks each record's own retention):
    B flags, B status, I4 attempts, I6 updatedAt, I6 createdAt, I6 expiresAt (bytes 1..24),
    B priority, I4 maxAttempts, I4 ackTimeoutMs, I4 payload size, c8 payload hash (25..45),
    B+phyId, H+idempotencyKey, B+fingerprint, H+traceContext, I6 deliverAt when flag 2, then
    the tail with the first 8 characters of the done token (76 bytes with a 7-character phyId
    and no key, error or result: one 80-byte allocation), then the event entry ids as above.
  Other ids (none minted by this release) finish into their own key with PX retentionMs.
  Status codes: 1 queued, 3 acked, 4 rejected, 5 expired, 6 dead, 7 cancelled. "In flight" is
  not written to the record: a queued command with an entry in its device's state is in flight.

  Return codes (mirrored by script-codes.ts):
     0 OK, 1 DUPLICATE, -1 NOT_FOUND, -2 LEASE_LOST, -3 DEVICE_FULL, -4 QUEUE_FULL,
    -5 INVALID_STATE, -6 IDEMPOTENCY_CONFLICT
]]
-- The shard's keys, set by begin() at the start of every call from KEYS[1]. A function library
-- defines these helpers once, at load, and keeps each shard's table for the calls after
-- (shardKeys); run as a script, a call builds its shard's table once.
local K = { prefix = false }
local shardKeys = {}
local OK, DUPLICATE, NOT_FOUND, LEASE_LOST, DEVICE_FULL, QUEUE_FULL, INVALID_STATE = 0, 1, -1, -2, -3, -4, -5
local IDEMPOTENCY_CONFLICT = -6
local QUEUED, ACKED, REJECTED, EXPIRED, DEAD, CANCELLED = 1, 3, 4, 5, 6, 7
local STATUS_NAME = { [1] = 'queued', [3] = 'acked', [4] = 'rejected', [5] = 'expired', [6] = 'dead', [7] = 'cancelled' }
local DROPPED, HAS_RESULT, COMPACT = 1, 4, 128
local PRIORITY_STEP = 562949953421312
-- 0-9 as text (a priority in an event entry), without a string.format per command
local DIGIT = { [0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9' }
local SEQ_EPOCH_S = 1735689600
-- set by begin(): a Redis 7.0 function library cannot reach `struct`, `string` or redis.call
-- while it loads. rcall is redis.call as an upvalue: one lookup, not a global and a field.
local spack, sunpack, sbyte, ssub, rcall

local function publishWake(arg)
  local channel, origin = string.match(arg, '^([^\n]+)\n(.+)$')
  if channel then rcall('PUBLISH', channel, K.prefix .. '\n' .. origin) else rcall('PUBLISH', arg, K.prefix) end
end

-- An integer as text: redis.call turns a Lua number into text with a slow float conversion
-- (printf's %.17g), so hot paths hand it text made by the integer path.
-- Calls ask for the same text often (an ack's attempt numbers, an enqueue's expiry times,
-- settings): each is made once and kept, up to 512 of them (a function library's table
-- outlives a call; a new table per call cost more at claim batch 1 than it saved).
local intText, intCount = {}, 0
local function int(n)
  local text = intText[n]
  if not text then
    text = string.format('%d', n)
    if n ~= n then return text end -- NaN: not a table key
    if intCount >= 512 then intText, intCount = {}, 0 end
    intText[n] = text
    intCount = intCount + 1
  end
  return text
end

-- Redis' clock, read once per call (a TIME is about 11k instructions inside a script): ms,
-- and microseconds since 2025 for takeSeq.
local function clockNow()
  local t = rcall('TIME')
  local s, us = tonumber(t[1]), tonumber(t[2])
  return s * 1000 + math.floor(us / 1000), (s - SEQ_EPOCH_S) * 1000000 + us
end
local function nowMs() return (clockNow()) end

local function cmdKey(id) return K.prefix .. 'c:' .. id end
local function lineKey(phyId) return K.prefix .. 'line:' .. phyId end
local function schedKey(phyId) return K.prefix .. 'sched:' .. phyId end
local function claimKey(token) return K.prefix .. 'claim:' .. token end

-- meta: seq, size, inflight, due (one GET and one SET per call). Every write to `scheduled`
-- and `backoff` lowers `due` (enqueue, fail); a meta without it (0) has promoteDue look.
-- Then low and high: the lowest priority and the highest ttlMs of the commands queued since
-- the shard last held none (an enqueue into an empty shard starts them; enqueue and
-- replay-dead extend them), so every pending command's priority is at least low and its ttlMs
-- at most high. An enqueue leaves out the `ready` and `expiry` writes they prove unchanged.
-- Releases before script version 21 write meta without them (32 bytes): then low is nil
-- (unknown) until the shard is empty again.
local NEVER = 1e300
local function readMeta()
  local m = rcall('GET', K.meta)
  if not m then return { seq = 0, size = 0, inflight = 0, due = NEVER } end
  if #m >= 48 then
    local seq, size, inflight, due, low, high = sunpack('>dddddd', m)
    return { seq = seq, size = size, inflight = inflight, due = due, low = low, high = high }
  end
  local seq, size, inflight = sunpack('>ddd', m)
  local due = #m >= 32 and sunpack('>d', m, 25) or 0
  return { seq = seq, size = size, inflight = inflight, due = due }
end
local function writeMeta(m)
  if m.low then rcall('SET', K.meta, spack('>dddddd', m.seq, m.size, m.inflight, m.due, m.low, m.high))
  else rcall('SET', K.meta, spack('>dddd', m.seq, m.size, m.inflight, m.due)) end
end

-- Hands out `count` sequence numbers (microseconds since 2025, strictly increasing in a shard);
-- us: clockNow's second answer, this call's clock.
local function takeSeq(m, count, us)
  local first = math.max(m.seq + 1, us)
  m.seq = first + count - 1
  return first
end

-- Device state: I4 pending (queued + in flight), B offline, d backoffUntil, B n, then n
-- in-flight entries: c36 id, B+token, d claimedAt. Read and written once per call.
local function readDev(phyId)
  local raw = rcall('HGET', K.dev, phyId)
  local d = { pending = 0, offline = 0, backoff = 0, inflight = {} }
  if not raw then return d end
  if #raw == 14 then -- nothing in flight
    d.pending, d.offline, d.backoff = sunpack('>I4Bd', raw)
    return d
  end
  -- the head and the first entry in one struct call, then one call an entry ('c0': a string
  -- as long as the number before it), where four string calls were: each C call from Lua is
  -- about 600 instructions
  local pending, offline, backoff, n, id, token, claimedAt, pos = sunpack('>I4BdBc36Bc0d', raw)
  d.pending, d.offline, d.backoff = pending, offline, backoff
  d.inflight[1] = { id, token, claimedAt }
  for i = 2, n do
    id, token, claimedAt, pos = sunpack('>c36Bc0d', raw, pos)
    d.inflight[i] = { id, token, claimedAt }
  end
  return d
end
-- The packed state, or nil when nothing is left to keep (the field goes).
local function packDev(d)
  if d.pending <= 0 and d.offline == 0 and #d.inflight == 0 then return nil end
  local n = #d.inflight
  local pending = d.pending > 0 and d.pending or 0
  if n == 1 then -- the usual in-flight device: one pack
    local e = d.inflight[1]
    return spack('>I4BdBc36Bc0d', pending, d.offline, d.backoff, 1, e[1], #e[2], e[2], e[3])
  end
  local state = spack('>I4BdB', pending, d.offline, d.backoff, n)
  -- appended entry by entry (at most maxInFlightPerDevice): a parts table and table.concat
  -- cost about 3k instructions more per write with the usual one or none
  for i = 1, n do
    local e = d.inflight[i]
    state = state .. spack('>c36Bc0d', e[1], #e[2], e[2], e[3])
  end
  return state
end
local function writeDev(phyId, d)
  local state = packDev(d)
  if state then rcall('HSET', K.dev, phyId, state) else rcall('HDEL', K.dev, phyId) end
end
-- Writes every state of devs (phyId -> state) with one HSET and at most one HDEL: a
-- redis.call costs about 4k instructions beside the command's own work. A call of more than
-- 500 devices (a large claim) writes them 500 at a time: Lua's unpack takes at most 8,000 values.
local function writeDevs(devs)
  local first = next(devs)
  if first == nil then return end
  if next(devs, first) == nil then return writeDev(first, devs[first]) end -- one: no lists to build
  local set, del, ns, nd = {}, {}, 0, 0
  for phyId, d in pairs(devs) do
    local state = packDev(d)
    if state then
      set[ns + 1], set[ns + 2], ns = phyId, state, ns + 2
      if ns == 1000 then
        rcall('HSET', K.dev, unpack(set))
        set, ns = {}, 0
      end
    else
      nd = nd + 1
      del[nd] = phyId
      if nd == 500 then
        rcall('HDEL', K.dev, unpack(del))
        del, nd = {}, 0
      end
    end
  end
  if ns > 0 then rcall('HSET', K.dev, unpack(set)) end
  if nd > 0 then rcall('HDEL', K.dev, unpack(del)) end
end
-- The index of id's in-flight entry, or nil.
local function inflightIndex(d, id)
  local inflight = d.inflight
  for i = 1, #inflight do if inflight[i][1] == id then return i end end
  return nil
end

-- Ready iff no retry pending, online, below maxInFlight and something in its line. Answers
-- the head's score when ready (the caller puts it into `ready`), else takes it out of `ready`.
local function readyHead(phyId, d, now, maxInFlight)
  if d.backoff > now or d.offline == 1 or #d.inflight >= maxInFlight or d.pending <= #d.inflight then
    rcall('ZREM', K.ready, phyId)
    return nil
  end
  local head = rcall('ZRANGE', lineKey(phyId), '0', '0', 'WITHSCORES')
  if #head == 0 then
    rcall('ZREM', K.ready, phyId)
    return nil
  end
  return head[2]
end
-- readyHead, and the device into `ready` at its head's score. Answers true and that score when ready.
local function refresh(phyId, d, now, maxInFlight)
  local score = readyHead(phyId, d, now, maxInFlight)
  if not score then return false end
  rcall('ZADD', K.ready, score, phyId)
  return true, score
end

-- Record fields the scripts read.
local function recStatus(rec) return sbyte(rec, 2) end
local function recAttempts(rec) return (sunpack('>I4', rec, 3)) end
local function recExpiresAt(rec) return (sunpack('>d', rec, 23)) end
local function recScore(rec) return (sunpack('>d', rec, 31)) end
local function recMaxAttempts(rec) return (sunpack('>I4', rec, 40)) end
local function recTtl(rec) return (sunpack('>d', rec, 52)) end
-- phyId, and where the immutable part ends (the tail starts right after).
-- Flag bits are tested with % (flags % 4 >= 2: bit 2), not bit.band: no C call.
local function recPhy(rec)
  local flags = sbyte(rec, 1)
  local phyId, _, _, _, pos = sunpack('>Bc0Hc0Bc0Hc0', rec, flags >= COMPACT and 46 or 80)
  if flags >= COMPACT and flags % 4 >= 2 then pos = pos + 6 end
  return phyId, pos - 1
end
-- The fingerprint of a keyed command's payload and parameters ('' none).
local function recFingerprint(rec)
  local at = sbyte(rec, 1) >= COMPACT and 46 or 80
  local pos = at + 1 + sbyte(rec, at)
  pos = pos + 2 + sunpack('>H', rec, pos)
  return ssub(rec, pos + 1, pos + sbyte(rec, pos))
end
-- doneToken, lastError, payload (nil when dropped), result (nil when none), the event entry ids (packed)
local function recTail(rec, fixedEnd)
  local token, err, payload, pos = sunpack('>Bc0Hc0I4c0', rec, fixedEnd + 1)
  local result = nil
  if sbyte(rec, 1) % 8 >= HAS_RESULT then result, pos = sunpack('>I4c0', rec, pos) end
  return token, err, payload, result, ssub(rec, pos)
end
-- A re-sent claim (or claiming enqueue): appends to out, as id and record pairs, what its first
-- run claimed (`prior`: the request hash's ids, 36 characters each) that `token` still holds.
local function appendStillHeld(prior, token, out)
  for p = 1, #prior, 36 do
    local id = ssub(prior, p, p + 35)
    local rec = rcall('GET', cmdKey(id))
    if rec and recStatus(rec) == QUEUED then
      local d = readDev((recPhy(rec)))
      local i = inflightIndex(d, id)
      if i and d.inflight[i][2] == token then
        out[#out + 1] = id
        out[#out + 1] = rec
      end
    end
  end
end

--[[
  The event log (docs/architecture.md, "Event log"): one stream per shard, K.prefix .. 'ev'
  (same hash tag, same slot), one entry per transition, written by the script that makes it.
  Callers name an entry's fields t type (q queued, d delivered, r retrying, a acked, j rejected,
  x dead, e expired, c cancelled, on device online, off device offline), c command id, p phyId,
  n attempt, r replica, e reason, w retryAt, o priority; logEvent writes them in the fixed
  layout below. The entry id's ms is the event's time. An acked entry with a replica (ack-1.lua)
  stands for the command's delivered event and its acked event, at the same time: one XADD where
  two were (about 22k instructions a command, 6% of a batch-64 lifecycle).
  A command's record ends with its entries' ids (see the header), so its timeline is read by id.
]]
-- @include event-log
-- An entry id's ms and seq as numbers. The usual id (13 digits of ms until 2286, a seq of at
-- most 4 digits) is read with one string.byte per part and summed here: cutting the parts out
-- with string.sub and having struct read them made two strings and two strtod calls, about 3k
-- instructions an entry. The codes are summed as they come (each digit's is 48 more) and
-- 48 x 1111111111111 taken off once; every sum stays below 2^53, so it is exact.
local function eventIdParts(sid)
  local n = #sid
  if n <= 18 and sbyte(sid, 14) == 45 then
    local a, b, c, d, e, f, g, h, i, j, k, l, m = sbyte(sid, 1, 13)
    local ms = ((((((((((((a * 10 + b) * 10 + c) * 10 + d) * 10 + e) * 10 + f) * 10 + g) * 10 + h) * 10 + i) * 10 + j) * 10 + k) * 10 + l) * 10 + m)
      - 53333333333328
    local s1, s2, s3, s4 = sbyte(sid, 15, n)
    local seq = s1 - 48
    if s2 then
      seq = seq * 10 + s2 - 48
      if s3 then
        seq = seq * 10 + s3 - 48
        if s4 then seq = seq * 10 + s4 - 48 end
      end
    end
    return ms, seq
  end
  local dash = string.find(sid, '-', 1, true)
  return tonumber(ssub(sid, 1, dash - 1)), tonumber(ssub(sid, dash + 1))
end
-- An entry id as the record keeps it (I6 ms, I4 seq).
local function packEventId(sid) return spack('>I6I4', eventIdParts(sid)) end
-- Entry ids logged in this call per command, not yet in its record (eventsOf adds them).
local newEvents = {}
-- A command's event: logged, and its id kept for the record this call writes next. extra:
-- {r|e|o, detail} or {e, reason, w, retryAt}. attempt: text (int) or nil. cid: the id
-- packed, when the caller sent it so (else packed here).
local function commandEvent(t, id, phyId, attempt, extra, cid)
  local sid = appendEvent(t, cid or packEventCommandId(id), phyId, attempt or '', extra and extra[2] or '', extra and extra[4] or '')
  newEvents[id] = (newEvents[id] or '') .. packEventId(sid)
end
-- The packed entry ids a new version of id's record ends with: the old ones, then this call's.
local function eventsOf(id, old)
  local added = newEvents[id]
  if not added then return old or '' end
  newEvents[id] = nil
  return (old or '') .. added
end

-- Whether a finished record's done token is the caller's (the compact form keeps its first 8 characters).
local function sameHolder(stored, token)
  return stored ~= '' and stored == ssub(token, 1, #stored)
end

-- A new version of a record: status, attempts, updatedAt, the tail; the immutable part kept.
-- err/payload/result nil keep the old ones; payload false drops it (its size and hash stay).
-- The event entry ids are kept, and id's logged in this call added.
local function rewrite(rec, status, attempts, now, token, err, payload, result, id)
  local _, fixedEnd = recPhy(rec)
  local oldToken, oldErr, oldPayload, oldResult, events = recTail(rec, fixedEnd)
  local flags = bit.band(sbyte(rec, 1), 2)
  if payload == nil then payload = oldPayload end
  if payload == false then payload = ''; flags = bit.bor(flags, DROPPED) else flags = bit.bor(flags, bit.band(sbyte(rec, 1), DROPPED)) end
  if err == nil then err = oldErr end
  if result == nil then result = oldResult end
  local tail = string.char(#token) .. token .. spack('>H', #err) .. err .. spack('>I4', #payload) .. payload
  if result then
    flags = bit.bor(flags, HAS_RESULT)
    tail = tail .. spack('>I4', #result) .. result
  end
  return spack('>BBI4d', flags, status, attempts, now) .. ssub(rec, 15, fixedEnd) .. tail .. eventsOf(id, events)
end

-- The hash a finished command moves to and its field there, or nil for an id without the
-- creation minute (see the header).
local function bucketOf(id)
  if sbyte(id, 15) ~= 55 then return nil end -- '7'
  return K.prefix .. 'f:' .. ssub(id, 5, 8) .. ssub(id, 10, 12), ssub(id, 13)
end

-- A command's record wherever it is: its key while pending or dead, else its bucket.
-- With retentionMs, a finished record older than that is not answered (its bucket may live on).
local function findRecord(id, now, retentionMs)
  local rec = rcall('GET', cmdKey(id))
  if rec then return rec end
  local bucket, field = bucketOf(id)
  if not bucket then return nil end
  rec = rcall('HGET', bucket, field)
  if rec and retentionMs and sunpack('>I6', rec, 7) + retentionMs <= now then return nil end
  return rec or nil
end

-- findRecord for a caller that will most likely finish the command (ack): its key is taken
-- with GETDEL (one call where GET and, at finish, DEL were two). Answers the record and
-- whether its key is gone; a caller that does not finish it puts it back (putBack).
local function takeRecord(id)
  if sbyte(id, 15) ~= 55 then return findRecord(id), false end -- no bucket (bucketOf)
  local rec = rcall('GETDEL', cmdKey(id))
  if rec then return rec, true end
  return findRecord(id), false
end
local function putBack(id, rec) rcall('SET', cmdKey(id), rec) end

-- Buckets written by this call and the bytes added to each, expired once at its end, and
-- their bytes counted in `fbytes` (zset creation minute -> bytes; trim-finished reads it).
-- A record counts its field, its value and ENTRY_BYTES for Redis' own per-entry overhead
-- (measured: a 76-byte record with its 24-byte field takes about 170 bytes of used_memory).
local ENTRY_BYTES = 64
local touchedBuckets = {}
local function expireBuckets(retentionMs)
  for bucket, bytes in pairs(touchedBuckets) do
    rcall('PEXPIRE', bucket, int(retentionMs))
    rcall('ZINCRBY', K.prefix .. 'fbytes', int(bytes), ssub(bucket, #K.prefix + 3))
  end
end

-- Writes a final record: dead letters (payload kept, for replay) stay until replayed or
-- purged; every other final state keeps no payload unless asked, for retentionMs. fixedEnd:
-- recPhy's second answer, when the caller has it.
local function finishRecord(id, rec, status, attempts, now, retentionMs, token, err, keepPayload, result, keyGone, fixedEnd)
  if status == DEAD then
    rcall('SET', cmdKey(id), rewrite(rec, status, attempts, now, token, err, nil, result, id))
    rcall('ZADD', K.dead, int(now), id)
    return
  end
  local bucket, field = bucketOf(id)
  if not bucket then
    local payload = false -- dropped
    if keepPayload then payload = nil end -- kept
    rcall('SET', cmdKey(id), rewrite(rec, status, attempts, now, token, err, payload, result, id), 'PX', int(retentionMs))
    return
  end
  -- the compact form (see the header), built from the pending record in one concatenation
  fixedEnd = fixedEnd or select(2, recPhy(rec))
  local _, oldErr, payload, oldResult, events = recTail(rec, fixedEnd)
  local old = sbyte(rec, 1)
  local flags = COMPACT + old % 4 - old % 2 -- its deliverAt bit (2) kept
  if keepPayload then
    flags = flags + old % 2 -- DROPPED as it was
  else
    payload = ''
    flags = flags + DROPPED
  end
  if err == nil then err = oldErr end
  if result == nil then result = oldResult end
  local resultPart = ''
  if result then
    flags = flags + HAS_RESULT
    resultPart = spack('>I4c0', #result, result)
  end
  local created, expires = sunpack('>dd', rec, 15)
  local deliverPart = flags % 4 >= 2 and spack('>I6', (sunpack('>d', rec, 60))) or ''
  local short = ssub(token, 1, 8)
  -- one pack of the whole head and tail ('c0': each string as long as the number before it)
  local compact = spack('>BBI4I6I6I6c5I4c0c0Bc0Hc0I4c0', flags, status, attempts, now, created, expires, ssub(rec, 39, 43),
    (sunpack('>d', rec, 44)), ssub(rec, 68, fixedEnd), deliverPart, #short, short, #err, err, #payload, payload)
    .. resultPart .. eventsOf(id, events)
  rcall('HSET', bucket, field, compact)
  if not keyGone then rcall('DEL', cmdKey(id)) end
  touchedBuckets[bucket] = (touchedBuckets[bucket] or 0) + #field + #compact + ENTRY_BYTES
end

-- Ends one command's part in its claim batch; the batch's lease entry goes with its last one.
-- A token ending in '.' leased one command at most (the claim scripts hold it to that): its
-- one outcome closes it without counting down `left`.
local function leaseDone(counts, token)
  counts[token] = (counts[token] or 0) + 1
end
local function closeLeases(counts, memoryMs)
  for token, n in pairs(counts) do
    local key = claimKey(token)
    if sbyte(token, -1) == 46 or rcall('HINCRBY', key, 'left', int(-n)) <= 0 then
      rcall('ZREM', K.leases, token)
      rcall('PEXPIRE', key, memoryMs)
    end
  end
end

-- A command back in its line notes its expiry on the device's sparse entry (keeps the earliest).
local function noteExpiry(phyId, expiresAt)
  rcall('ZADD', K.expiry, 'LT', int(expiresAt), phyId)
end

-- The scores of the best `depth` commands a claim would take from this shard now.
local function bestScores(maxInFlight, depth)
  if depth <= 0 then return {} end
  if maxInFlight == 1 then
    local flat = rcall('ZRANGE', K.ready, '0', int(depth - 1), 'WITHSCORES')
    local out = {}
    for i = 2, #flat, 2 do out[i / 2] = flat[i] end
    return out
  end
  local scores = {}
  for _, phyId in ipairs(rcall('ZRANGE', K.ready, 0, depth - 1)) do
    local free = maxInFlight - #readDev(phyId).inflight
    local line = rcall('ZRANGE', lineKey(phyId), 0, math.min(free, depth) - 1, 'WITHSCORES')
    for i = 2, #line, 2 do scores[#scores + 1] = tonumber(line[i]) end
  end
  table.sort(scores)
  local out = {}
  for i = 1, math.min(depth, #scores) do out[i] = string.format('%.0f', scores[i]) end
  return out
end

-- Moves due scheduled commands into their device's line and ends due retry waits; nothing
-- (no call) before meta.due. Answers whether it looked (then meta changed: the caller writes it).
local function promoteDue(now, maxInFlight, limit, meta)
  if meta.due > now then return false end
  local nowText, limitText = int(now), int(limit)
  local ids = rcall('ZRANGEBYSCORE', K.scheduled, '-inf', nowText, 'LIMIT', '0', limitText)
  for _, id in ipairs(ids) do
    rcall('ZREM', K.scheduled, id)
    local rec = rcall('GET', cmdKey(id))
    if rec then
      local phyId = recPhy(rec)
      rcall('ZREM', schedKey(phyId), id)
      rcall('ZADD', lineKey(phyId), int(recScore(rec)), id)
      noteExpiry(phyId, recExpiresAt(rec))
      refresh(phyId, readDev(phyId), now, maxInFlight)
    end
  end
  local devices = rcall('ZRANGEBYSCORE', K.backoff, '-inf', nowText, 'LIMIT', '0', limitText)
  for _, phyId in ipairs(devices) do
    rcall('ZREM', K.backoff, phyId)
    refresh(phyId, readDev(phyId), now, maxInFlight)
  end
  if #ids == limit or #devices == limit then
    meta.due = now -- more are due: look again next time
  else
    local s = rcall('ZRANGE', K.scheduled, '0', '0', 'WITHSCORES')
    local b = rcall('ZRANGE', K.backoff, '0', '0', 'WITHSCORES')
    meta.due = math.min(tonumber(s[2]) or NEVER, tonumber(b[2]) or NEVER)
  end
  return true
end

-- One claim batch's lease: its entry in `leases` (until leaseText) and its request hash
-- claim:<token>, which the ack, the lease reaper and a re-sent call read: ids (the ids claimed,
-- 36 characters each, best first) and left (how many still hold the lease). The only writer of
-- both (claim, a claiming enqueue, an ack that claims).
local function recordClaim(token, claimed, leaseText)
  rcall('ZADD', K.leases, leaseText, token)
  -- a batch of one writes no `left`: the ack's HINCRBY of -1 on the missing field answers -1
  -- and closes the lease all the same
  if #claimed == 1 then rcall('HSET', claimKey(token), 'ids', claimed[1])
  else rcall('HSET', claimKey(token), 'ids', table.concat(claimed), 'left', int(#claimed)) end
end

-- The claim of claim-1.lua and of an ack that claims: up to `max` ready commands of the
-- shard, highest priority then oldest first, at most maxInFlight per device, leased to
-- `token` (recordClaim). lease: {now = the call's clock or nil, ms = leaseMs}; without now,
-- the clock is read (TIME) only once `ready` names a device, so a claim that finds nothing
-- reads none; lease.now and lease.text (leaseExpiresAt as text) are set then, for the reply.
-- A head whose TTL passed is expired instead of sent.
-- bound: only devices whose head's score is at most it (nil: any), so a caller that planned
-- across shards takes nothing worse than its plan. devs: the call's device states (phyId ->
-- state), read here when missing and written by the caller (writeDevs). Appends id and record
-- per claimed command to out. Answers how many it claimed, whether it changed meta (the
-- caller writes it) and whether it saw `ready` empty when it stopped (then the shard's best
-- scores are none, and a caller that adds nothing to `ready` after it answers them without a
-- read). Call promoteDue first.
local function claimReady(max, token, lease, maxInFlight, retentionMs, keepPayload, meta, devs, out, bound)
  local claimed, metaChanged, readded = {}, false, false
  local now = lease.now
  -- Takes the head of a device that was in `ready` (and is out of it now). Answers nothing;
  -- re-adds the device when it may still be sent to (a head that expired, free slots).
  local function take(phyId)
    local d = devs[phyId]
    if not d then
      d = readDev(phyId)
      devs[phyId] = d
    end
    -- the head's id without its score (ZPOPMIN's reply carries it, which Redis 7.0 prints with
    -- %.17g: about 4k instructions, more than the second call costs)
    local line = lineKey(phyId)
    local head = rcall('ZRANGE', line, '0', '0')
    if #head == 0 then return end
    rcall('ZREMRANGEBYRANK', line, '0', '0')
    local id = head[1]
    local rec = rcall('GET', cmdKey(id))
    if not rec then
      if refresh(phyId, d, now, maxInFlight) then readded = true end -- index entry without a record: dropped
      return
    end
    if recExpiresAt(rec) <= now then
      commandEvent('e', id, phyId, nil, { 'e', 'ttl passed before delivery' })
      finishRecord(id, rec, EXPIRED, recAttempts(rec), now, retentionMs, '', 'ttl passed before delivery', keepPayload)
      d.pending = d.pending - 1
      meta.size = meta.size - 1
      metaChanged = true
      if refresh(phyId, d, now, maxInFlight) then readded = true end
      return
    end
    d.inflight[#d.inflight + 1] = { id, token, now }
    claimed[#claimed + 1] = id
    out[#out + 1] = id
    out[#out + 1] = rec
    if maxInFlight > 1 then refresh(phyId, d, now, maxInFlight) end
  end
  local boundText = bound and int(bound)
  local readyEmpty = false
  while #claimed < max do
    local want, devices = max - #claimed, nil
    if boundText then devices = rcall('ZRANGE', K.ready, '-inf', boundText, 'BYSCORE', 'LIMIT', '0', int(want))
    else devices = rcall('ZRANGE', K.ready, '0', int(want - 1)) end
    if #devices == 0 then
      readyEmpty = not boundText -- a bounded read leaves the worse devices unseen
      break
    end
    if not now then
      now = nowMs()
      lease.now = now
    end
    if not lease.text then lease.text = int(now + lease.ms) end
    if maxInFlight == 1 then
      -- each ready device gives exactly its head (the first by rank are the first by score)
      rcall('ZREMRANGEBYRANK', K.ready, '0', int(#devices - 1))
      readded = false
      for i = 1, #devices do take(devices[i]) end
      -- Fewer than asked, all taken out and none put back (an expired or dropped head): `ready`
      -- is empty now, so no second read to find that out (a short claim paid one, and its
      -- caller's best scores one more).
      if not boundText and #devices < want and not readded then
        readyEmpty = true
        break
      end
    else
      rcall('ZREM', K.ready, devices[1]) -- take() re-adds it while it has free slots
      take(devices[1])
    end
  end
  if #claimed > 0 then
    recordClaim(token, claimed, lease.text)
    meta.inflight = meta.inflight + #claimed
    metaChanged = true
  end
  return #claimed, metaChanged, readyEmpty
end

-- Why a queued command waits ('' = it does not), and whether it is in flight (its claimedAt).
local function describe(id, rec, now)
  if recStatus(rec) ~= QUEUED then return { 0, '' } end
  local phyId = recPhy(rec)
  local d = readDev(phyId)
  local i = inflightIndex(d, id)
  if i then return { 1, tostring(d.inflight[i][3]) } end
  if rcall('ZSCORE', K.scheduled, id) then return { 0, 'schedule' } end
  if d.offline == 1 then return { 0, 'device' } end
  if d.backoff > now then return { 0, 'backoff' } end
  return { 0, '' }
end

-- The answer for one record: {id, record, inflight (0|1), claimedAt or waitingFor}.
local function view(id, rec, now)
  local s = describe(id, rec, now)
  return { id, rec, s[1], s[2] }
end

-- The status a caller sees.
local function statusOf(id, rec)
  local s = recStatus(rec)
  if s == QUEUED and inflightIndex(readDev((recPhy(rec))), id) then return 'inflight' end
  return STATUS_NAME[s]
end

-- Every call starts here (the script loader and the function library both put it first): the
-- shard's keys, and this call's state reset (a library's helpers outlive a call).
local function begin(keys)
  if not spack then spack, sunpack, sbyte, ssub, rcall = struct.pack, struct.unpack, string.byte, string.sub, redis.call end
  local p = keys[1]
  K = shardKeys[p]
  if not K then
    K = {
      prefix = p, ready = p .. 'ready', dev = p .. 'dev', meta = p .. 'meta', leases = p .. 'leases',
      scheduled = p .. 'scheduled', backoff = p .. 'backoff', expiry = p .. 'expiry', dead = p .. 'dead',
      offline = p .. 'offline', events = p .. 'ev',
    }
    shardKeys[p] = K
  end
  EVENTS_KEY = K.events
  newEvents, touchedBuckets = {}, {}
end
