--[[
  Records device outcomes for in-flight commands of one shard: 'ok' -> acked, 'rejected' ->
  rejected, both kept for retentionMs (the payload dropped unless asked to keep it).

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] numbers, packed as doubles: maxInFlightPerDevice, retentionMs, depth, claim memory
          (ms), keep payload (1|0), n, the dispatcher's clock (epoch ms): an acked record's
          updatedAt, never earlier than its claim (Redis' time, the record's last transition);
          Redis' clock is read only to make a device in a retry wait ready again or to claim;
          then claimMax (0: no claim), leaseMs, bound (the worst score the claim may take,
          negative: any)
  ARGV[2] wake channel   ARGV[3] the claim's request token (its lease token; '' without a claim;
          ending in '.': a claim of one command at most, as claim-1.lua)
  then 5 per item: id, leaseToken, outcome and result (first byte: 'a' acked, 'j' rejected,
  'A'/'J' the same with a result, the rest of the string), replica ('' none: no delivered
  event), the id as events hold it (16 bytes)

  With claimMax > 0 the same call then claims, as claim-1.lua does (claimReady: best ready
  first, per-device order and limits, due work promoted first, expired heads expired), up to
  claimMax of the shard's ready commands whose score is at most bound, under the request token:
  the caller's next batch without a claim round trip. A re-sent call answers what its first run
  claimed that the token still holds, and claims nothing new.

  Returns {items, scores} (with a claim: {items, scores, claim}): items, one integer per item,
  status * 4 - code: code 0 OK (also when this token already made the transition: safe to run
  twice), -1 NOT_FOUND, -2 LEASE_LOST; status the one it left or found, as a record's status
  byte (1 queued, 3 acked, 4 rejected, ...), 2 in flight, 0 none (NOT_FOUND). So an ack answers
  12, a refused one LEASE_LOST with the current status. Then the shard's best `depth` claimable
  scores after the acks (and the claim); claim: {leaseExpiresAt, 0, then per claimed command:
  id, record}, best first, as claim-1.lua answers. (A table per item cost about 2k
  instructions each to build and to turn into Redis' reply; a status name beside the code, one
  more reply value.)

  Events: an acked command with a replica logs one entry, type acked with the replica in `v`,
  that stands for its delivered and acked events (readers answer both, event-log.ts); a
  rejected one logs delivered and rejected as two entries.

  Cost per command: GETDEL of its record's key and one XADD (two when rejected), and once per
  device in the call an HGET of its state; one HSET of the finished forms per minute hash they
  go to, one HSET (and HDEL) of every state the call changed (writeDevs). The batch's lease entry goes with its last command.
]]
-- @include v3

-- an answer's status for a command in flight (no record holds status 2)
local INFLIGHT = 2

local maxInFlight, retentionMs, depth, memoryMs, keep, n, callerNow, claimMax, leaseMs, bound = sunpack('>dddddddddd', ARGV[1])
local channel, claimToken, keepPayload = ARGV[2], ARGV[3], keep == 1
-- a claim token ending in '.' leases one command at most (closeLeases closes it with its one outcome)
if claimMax > 1 and sbyte(claimToken, -1) == 46 then claimMax = 1 end
local out, devs, leases, done = {}, {}, {}, 0
-- A claim's meta, read before the acks: due work is promoted first (promoteDue reads device
-- states from Redis, so it runs before this call holds any of its own). A re-sent call promotes
-- too (what any claim would do); whether it is one is asked after the acks. The Redis clock is
-- read for a promotion only when something is scheduled or waits for a retry (meta.due), else
-- by the claim once it finds a ready device: an ack that claims nothing reads none.
local now, meta, metaChanged = nil, nil, false
if claimMax > 0 then
  meta = readMeta()
  if meta.due < NEVER then
    now = nowMs()
    metaChanged = promoteDue(now, maxInFlight, 1000, meta)
  end
end
-- The finished form of a pending record the ack took (GETDEL: it has a bucket), built here in
-- one unpack of its head and one pack (finishRecord reads the same fields with six calls).
-- Bucket names by the id's creation minute (characters 5-12), made once per minute a call.
local bucketOfMinute = {}
-- The finished records of this call, written with one HSET per bucket after the acks (one per
-- record cost a redis.call each): bucket -> {field, record, ...}; and id -> record, for an id
-- acked twice in one call, whose second item finds it here rather than in its bucket.
local finishing, finished = {}, {}
local function flushFinished()
  for bucket, args in pairs(finishing) do rcall('HSET', bucket, unpack(args)) end
  finishing = {}
end
-- The compact form (includes/v3.lua): head, immutable part, B+doneToken (its first 8
-- characters: a claim's token has 16), H+lastError, I4+payload, then the event ids ('c0' packs
-- a whole string).
local COMPACT_HEAD = '>BBI4I6I6I6c5I4c0c0Bc8Hc0I4c0'
-- The same with the record's event entry ids ('c0') and this call's one entry id (I6 ms, I4
-- seq) packed at its end: no string of its own and no concatenation.
local COMPACT_EVENT, COMPACT_RESULT_EVENT = COMPACT_HEAD .. 'c0I6I4', COMPACT_HEAD .. 'I4c0c0I6I4'
-- events: the entry ids this call logged for the command, packed; or evMs and evSeq: its one entry's id.
local function finishTaken(id, rec, fixedEnd, flags0, status, attempt, updatedAt, created, expires, head, ackTimeout, token, result, events, evMs, evSeq)
  local minute = ssub(id, 5, 12)
  local bucket = bucketOfMinute[minute]
  if not bucket then
    bucket = K.prefix .. 'f:' .. ssub(minute, 1, 4) .. ssub(minute, 6)
    bucketOfMinute[minute] = bucket
  end
  local field = ssub(id, 13)
  local _, err, payloadLen, pos = sunpack('>Bc0Hc0I4', rec, fixedEnd + 1)
  local flags, payload = COMPACT + flags0 % 4 - flags0 % 2, '' -- its deliverAt bit (2) kept
  if keepPayload then
    payload = ssub(rec, pos, pos + payloadLen - 1)
    flags = flags + flags0 % 2 -- DROPPED as it was
  else
    flags = flags + DROPPED
  end
  pos = pos + payloadLen
  local oldResult = nil
  if flags0 % 8 >= HAS_RESULT then oldResult, pos = sunpack('>I4c0', rec, pos) end
  result = result or oldResult
  if status == REJECTED then err = 'rejected by the device' end
  local deliverPart = flags % 4 >= 2 and spack('>I6', (sunpack('>d', rec, 60))) or ''
  local compact
  if evMs then
    if result then
      compact = spack(COMPACT_RESULT_EVENT, flags + HAS_RESULT, status, attempt, updatedAt, created, expires, head, ackTimeout,
        ssub(rec, 68, fixedEnd), deliverPart, 8, token, #err, err, #payload, payload, #result, result, ssub(rec, pos), evMs, evSeq)
    else
      compact = spack(COMPACT_EVENT, flags, status, attempt, updatedAt, created, expires, head, ackTimeout,
        ssub(rec, 68, fixedEnd), deliverPart, 8, token, #err, err, #payload, payload, ssub(rec, pos), evMs, evSeq)
    end
  elseif result then
    compact = spack(COMPACT_HEAD .. 'I4c0', flags + HAS_RESULT, status, attempt, updatedAt, created, expires, head, ackTimeout,
      ssub(rec, 68, fixedEnd), deliverPart, 8, token, #err, err, #payload, payload, #result, result) .. ssub(rec, pos) .. events
  else
    compact = spack(COMPACT_HEAD, flags, status, attempt, updatedAt, created, expires, head, ackTimeout,
      ssub(rec, 68, fixedEnd), deliverPart, 8, token, #err, err, #payload, payload) .. ssub(rec, pos) .. events
  end
  local args = finishing[bucket]
  if not args then
    args = {}
    finishing[bucket] = args
  end
  local k = #args
  args[k + 1], args[k + 2] = field, compact
  -- Lua's unpack takes at most 8,000 values: a long call writes 500 records at a time
  if k == 998 then
    rcall('HSET', bucket, unpack(args))
    finishing[bucket] = nil
  end
  finished[id] = compact
  touchedBuckets[bucket] = (touchedBuckets[bucket] or 0) + #field + #compact + ENTRY_BYTES
end

for i = 1, n do
  local b = 3 + (i - 1) * 5
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], sbyte(ARGV[b + 3], 1)
  local rec, taken = finished[id], false
  if not rec then rec, taken = takeRecord(id) end
  if not rec then
    out[i] = -NOT_FOUND
  else
    local phyId, fixedEnd = recPhy(rec)
    local d = devs[phyId]
    if not d then
      d = readDev(phyId)
      devs[phyId] = d
    end
    -- the head of a pending record ('x': a byte skipped); a finished one (found in its bucket)
    -- has flags, status and attempts at the same places, and is read no further
    local flags0, recStatusNow, attempts, created, expires, head, ackTimeout = sunpack('>BBI4xxxxxxxxddxxxxxxxxc5d', rec)
    local at = recStatusNow == QUEUED and inflightIndex(d, id)
    if at and d.inflight[at][2] == token then
      local status = (outcome == 97 or outcome == 65) and ACKED or REJECTED -- 'a' 'A'
      local inflight = d.inflight
      local updatedAt, claimedAt = callerNow, inflight[at][3]
      if claimedAt > updatedAt then updatedAt = claimedAt end
      if at == #inflight then inflight[at] = nil else table.remove(inflight, at) end
      d.pending = d.pending - 1
      local attempt = attempts + 1
      local cid, attemptText = ARGV[b + 5], int(attempt)
      local replica = ARGV[b + 4]
      local result = outcome < 97 and ssub(ARGV[b + 3], 2) or nil -- 'A' 'J': with a result
      if taken and #token >= 8 then
        -- one entry for delivered and acked: an acked entry carrying the replica (includes/v3.lua)
        if status == ACKED then
          local evMs, evSeq = eventIdParts(appendEvent('a', cid, phyId, attemptText, replica, ''))
          finishTaken(id, rec, fixedEnd, flags0, status, attempt, updatedAt, created, expires, head, ackTimeout, token, result, nil, evMs, evSeq)
        else
          local events = replica ~= '' and packEventId(appendEvent('d', cid, phyId, attemptText, replica, '')) or ''
          events = events .. packEventId(appendEvent('j', cid, phyId, attemptText, 'rejected by the device', ''))
          finishTaken(id, rec, fixedEnd, flags0, status, attempt, updatedAt, created, expires, head, ackTimeout, token, result, events)
        end
      else
        if status == ACKED then
          commandEvent('a', id, phyId, attemptText, replica ~= '' and { 'r', replica } or nil, cid)
        else
          if replica ~= '' then commandEvent('d', id, phyId, attemptText, { 'r', replica }, cid) end
          commandEvent('j', id, phyId, attemptText, { 'e', 'rejected by the device' }, cid)
        end
        finishRecord(id, rec, status, attempt, updatedAt, retentionMs, token,
          status == REJECTED and 'rejected by the device' or nil, keepPayload, result, taken, fixedEnd)
      end
      leaseDone(leases, token)
      done = done + 1
      out[i] = status * 4 - OK
    else
      if taken then putBack(id, rec) end -- pending or dead: no expiry to restore
      local now4 = (at and INFLIGHT or recStatusNow) * 4
      if token ~= '' and sameHolder(recTail(rec, fixedEnd), token) then
        out[i] = now4 - OK
      else
        out[i] = now4 - LEASE_LOST
      end
    end
  end
end
flushFinished()
-- Wake waiting claimers only when the shard's ready set was empty: while it holds a device,
-- no claimer waits on this shard (a claim that came back short read every ready set first),
-- and other dispatchers re-ask a shard they have not heard from for 100 ms anyway. At claim
-- batch 1 this was one PUBLISH (a socket write) per command.
-- The devices ready again go into `ready` with one ZADD; a list is made only for a second one
-- (a table per call cost about 2k instructions at claim batch 1).
local firstScore, firstPhyId, readyArgs = nil, nil, nil
for phyId, d in pairs(devs) do
  if d.pending > #d.inflight then
    -- readyHead compares the clock only with a retry wait (backoff 0: none)
    if d.backoff > 0 and not now then now = nowMs() end
    local score = readyHead(phyId, d, d.backoff > 0 and now or 0, maxInFlight)
    if score then
      if not firstScore then
        firstScore, firstPhyId = score, phyId
      else
        readyArgs = readyArgs or { firstScore, firstPhyId }
        readyArgs[#readyArgs + 1] = score
        readyArgs[#readyArgs + 1] = phyId
      end
    end
  end
end
-- devices the acks put into `ready` that were not in it
local added = 0
if readyArgs then added = rcall('ZADD', K.ready, unpack(readyArgs))
elseif firstScore then added = rcall('ZADD', K.ready, firstScore, firstPhyId) end
-- The claim, after the acks (the devices they freed are in `ready` again), on the same states.
-- A call that acked something is a first run (a re-sent one finds its acks done); one that
-- acked nothing answers what a first run under its token claimed, if there was one.
local claim, claimed, readyEmpty = nil, 0, false
if claimMax > 0 then
  local prior = done == 0 and rcall('HGET', claimKey(claimToken), 'ids')
  if prior then
    claim = { rcall('ZSCORE', K.leases, claimToken) or '0', 0 }
    appendStillHeld(prior, claimToken, claim)
  else
    -- leaseExpiresAt, set once the claim knows the clock ('0' when it claimed nothing)
    claim = { '0', 0 }
    local lease, claimChanged = { now = now, ms = leaseMs }, nil
    claimed, claimChanged, readyEmpty = claimReady(claimMax, claimToken, lease, maxInFlight, retentionMs, keepPayload, meta, devs, claim, bound >= 0 and bound or nil)
    if lease.text then claim[1] = lease.text end
    now = lease.now
    if claimChanged then metaChanged = true end
  end
end
-- Whether `ready` was empty before the acks, from its size now: `added` went in, and at least
-- `removed` came out (with maxInFlightPerDevice 1 each claimed command took its device out;
-- readyHead's ZREMs only take more). Without more added than taken (an ack that claims as much
-- as it frees) it cannot have gone from empty to holding a device: no ZCARD. A claimer woken
-- for nothing (devices taken out unseen) only looks.
local wake = false
local removed = maxInFlight == 1 and claimed or 0
if added > removed then
  local size = rcall('ZCARD', K.ready)
  wake = size > 0 and size - added + removed <= 0
end
writeDevs(devs)
if done > 0 then
  closeLeases(leases, int(memoryMs))
  meta = meta or readMeta()
  meta.size, meta.inflight = meta.size - done, meta.inflight - done
  metaChanged = true
end
if metaChanged then writeMeta(meta) end
expireBuckets(retentionMs)
if wake then publishWake(channel) end
-- the shard's best scores: none when the claim saw `ready` empty (nothing since adds to it)
local scores = readyEmpty and {} or bestScores(maxInFlight, depth)
if claim then return { out, scores, claim } end
return { out, scores }
