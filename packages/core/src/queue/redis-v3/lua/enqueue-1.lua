--[[
  Enqueues commands for devices of one shard (one call per shard per batch).

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] numbers, packed as doubles (one struct.unpack, not a tonumber each): maxInFlightPerDevice,
          perDeviceCap, shardCap (globalCap / shards), retentionMs, n items, depth (how many of
          the shard's best claimable scores to answer, 0 none), how long to remember the
          request token (ms), claimMax (0: no claim), leaseMs
  ARGV[2] wake channel   ARGV[3] the request token (unique per call; the lease token of its claim;
          ending in '.': a claim of one command at most, as claim-1.lua)
  then 7 per item: id, phyId, deliverAt (epoch ms, '' none), idempotencyKey ('' none),
                   fingerprint, the record from byte 39 up to its event ids, packed by the
                   caller (records-v3.ts packBody: the fixed part, its priority and ttlMs read
                   from it, then the empty done token and error, the payload's size and the
                   payload), the id as events hold it (16 bytes)

  With claimMax > 0 (a dispatch loop of the enqueuing process waits for work with room), the
  call also claims, under its request token, up to claimMax of the commands it made ready:
  the heads of the devices it made ready, best first, per-device order and maxInFlightPerDevice
  kept, leased and remembered as claim-1.lua does (a re-sent script answers what the first
  run claimed). That saves the wake-up and the claim round trip.

  Returns {items, scores} (with a claim: {items, scores, claim}): per item 0 when it was created
  (its own id, status queued: the usual answer, one integer), else {code, id, status}: 0 in a
  re-sent script (the id exists, even finished since: answered as it is now), 1 DUPLICATE (the key named `id` with the same
  fingerprint), -6 IDEMPOTENCY_CONFLICT (the key names `id`, stored with another
  fingerprint), -3 DEVICE_FULL, -4 QUEUE_FULL (nothing written for that item); scores: the
  shard's best `depth` claimable scores after the call; claim: {leaseExpiresAt, 0, then per
  claimed command: id, record}, best first, as claim-1.lua answers. Publishes a wake when a
  device it made ready is still ready after its claim.

  Cost: one ZADD (its line) and one XADD (its queued event) per command, then per device one
  HGET of its state, and per call one MSET of the records, one HSET of the states, one ZADD
  each of ready and expiry (of the devices whose entry may change: see the shard's bounds in
  readMeta) and the SET of its request token
  (a re-sent script finds it and looks each id up instead of writing it again). Its claim:
  per command one ZRANGE and one ZREMRANGEBYRANK of its line (the device state is written once
  anyway), per call one
  ZADD of the lease and one HSET of the request hash. A device that had nothing queued and
  gets one command, which the claim takes, costs none of its line's calls (the command is
  never written there) and no `expiry` entry: at claim batch 1 the usual case.
]]
-- @include v3

local maxInFlight, perDeviceCap, shardCap, retentionMs, n, depth, tokenMs, claimMax, leaseMs = sunpack('>ddddddddd', ARGV[1])
local channel, token = ARGV[2], ARGV[3]
-- a token ending in '.' leases one command at most (closeLeases closes it with its one outcome)
if claimMax > 1 and sbyte(token, -1) == 46 then claimMax = 1 end
local now, nowUs = clockNow()
local rerun = not rcall('SET', K.prefix .. 'enq:' .. token, '1', 'NX', 'PX', int(tokenMs))
local meta = readMeta()
local nextSeq = takeSeq(meta, n, nowUs)
-- An empty shard starts its bounds (readMeta): every command pending from now on is counted.
if meta.size == 0 then meta.low, meta.high = 9, 0 end
-- Nothing scheduled and no retry wait in the shard: a device with queued commands has them in
-- its line, so while it may be sent to it is in `ready` at its head's score.
local noneWaiting = meta.due == NEVER
-- heads: phyId -> its best new score, headText: that score as text
-- made: id -> record of each command this call put into a line (its claim needs no GET);
-- queuedBefore: phyId -> the device held queued commands (in its line or scheduled) before this call
-- written: id -> each record with an idempotency key this call made (the records are written
-- with one MSET after the loop: a key repeated later in the same call finds its first command here)
local out, devs, heads, headText, expiries, made, queuedBefore, written = {}, {}, {}, {}, {}, {}, {}, {}
-- With a claim: held, phyId -> {score text, id} of the one command this call put into the line
-- of a device that had none queued, not written yet (the claim may take it straight: no
-- ZADD, ZRANGE and ZREMRANGEBYRANK of a line it goes through); a second command for the
-- device writes both. inLine: phyId -> this call's commands in its line (held or written);
-- scheduledFor: phyId -> this call scheduled one for it (both kept only with a claim).
local held, inLine, scheduledFor = {}, {}, {}
local sets, nsets = { 'MSET' }, 1
-- A record's head (flags, status, attempts, updatedAt, createdAt) is the same for every
-- command of the call but for its deliverAt flag: packed once each.
local headNow = { [0] = spack('>BBI4dd', 0, QUEUED, 0, now, now), [2] = spack('>BBI4dd', 2, QUEUED, 0, now, now) }
-- expiresAt (now + ttlMs) packed once per ttlMs of the call (most calls have one)
local expiresPacked = {}
-- A score as text: string.format a command cost about 2.5k instructions; scores of one call
-- are consecutive, so the text of score // 10 is made once per ten and its last digit added.
local tens = {}
local function scoreText(score)
  local last = score % 10
  local hi = (score - last) / 10
  if hi < 1 or hi >= 1e15 then return string.format('%d', score) end
  local text = tens[hi]
  if not text then
    text = string.format('%d', hi)
    tens[hi] = text
  end
  return text .. DIGIT[last]
end

for i = 1, n do
  local b = 3 + (i - 1) * 7
  local id, phyId, deliverAt = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3])
  local idem, fingerprint, body = ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  local priority, _, _, ttlMs = sunpack('>BI4dd', body)
  local idemRef, first = nil, nil
  if idem ~= '' then
    idemRef = K.prefix .. 'idem:' .. #phyId .. ':' .. phyId .. ':' .. idem
    first = rcall('GET', idemRef)
  end
  local firstRec = first and first ~= id and (written[first] or findRecord(first))
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
      queuedBefore[phyId] = d.pending > #d.inflight
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
      -- the record: its head, expiresAt and score, the caller's body, its queued entry's id
      -- (I6 ms, I4 seq) last; concatenated, since struct.pack copies a string byte by byte
      local evMs, evSeq = eventIdParts(appendEvent('q', ARGV[b + 7], phyId, '', DIGIT[priority], ''))
      local exp = expiresPacked[ttlMs]
      if not exp then
        exp = spack('>d', expiresAt)
        expiresPacked[ttlMs] = exp
      end
      local rec = headNow[deliverAt and 2 or 0] .. exp .. spack('>d', score) .. body .. spack('>I6I4', evMs, evSeq)
      if idemRef then written[id] = rec end -- only a keyed command can be found by its key
      sets[nsets + 1], sets[nsets + 2], nsets = K.prefix .. 'c:' .. id, rec, nsets + 2
      if nsets > 1000 then
        rcall(unpack(sets))
        sets, nsets = { 'MSET' }, 1
      end
      d.pending = d.pending + 1
      meta.size = meta.size + 1
      if meta.low then
        if priority < meta.low then meta.low = priority end
        if ttlMs > meta.high then meta.high = ttlMs end
      end
      if deliverAt ~= nil and deliverAt > now then
        rcall('ZADD', K.scheduled, int(deliverAt), id)
        if deliverAt < meta.due then meta.due = deliverAt end
        rcall('ZADD', schedKey(phyId), deliverAt, id)
        if claimMax > 0 then scheduledFor[phyId] = true end
      else
        local text = scoreText(score)
        if claimMax > 0 then
          local count = inLine[phyId]
          if not count and not queuedBefore[phyId] then
            held[phyId] = { text, id }
          else
            local first = held[phyId]
            if first then
              rcall('ZADD', lineKey(phyId), first[1], first[2])
              held[phyId] = nil
            end
            rcall('ZADD', lineKey(phyId), text, id)
          end
          inLine[phyId] = (count or 0) + 1
          made[id] = rec
        else
          rcall('ZADD', lineKey(phyId), text, id)
        end
        if not heads[phyId] or score < heads[phyId] then heads[phyId], headText[phyId] = score, text end
      end
      out[i] = OK
      if not expiries[phyId] or expiresAt < expiries[phyId] then expiries[phyId] = expiresAt end
      if idemRef then rcall('SET', idemRef, id, 'PX', int(ttlMs + retentionMs)) end
    end
  end
end
if nsets > 1 then rcall(unpack(sets)) end

-- The claim: the heads of the devices this call made ready, best first, as claim-1.lua
-- takes them from `ready` (a head whose TTL passed is left there for a claim to expire).
local claim, taken = nil, {}
if claimMax > 0 then
  claim = { int(now + leaseMs), 0 }
  local prior = rerun and rcall('HGET', claimKey(token), 'ids')
  if prior then
    -- a re-sent script: what the first run claimed that this token still holds
    appendStillHeld(prior, token, claim)
  elseif not rerun then
    local order = {}
    for phyId in pairs(heads) do order[#order + 1] = phyId end
    if #order > 1 then table.sort(order, function(a, b) return heads[a] < heads[b] end) end
    local claimed = {}
    local function take(d, phyId, id, rec)
      d.inflight[#d.inflight + 1] = { id, token, now }
      claimed[#claimed + 1] = id
      claim[#claim + 1] = id
      claim[#claim + 1] = rec
      taken[phyId] = true
    end
    for _, phyId in ipairs(order) do
      if #claimed >= claimMax then break end
      local d = devs[phyId]
      local only = held[phyId]
      if only then
        -- the device's one queued command, not written to its line: taken as it is (an
        -- expired one goes to its line below, for a claim to expire)
        local id = only[2]
        local rec = made[id]
        if not (d.backoff > now or d.offline == 1 or #d.inflight >= maxInFlight) and recExpiresAt(rec) > now then
          held[phyId] = nil
          take(d, phyId, id, rec)
        end
      end
      while not only and #claimed < claimMax and not (d.backoff > now or d.offline == 1 or #d.inflight >= maxInFlight) do
        -- the head's id without its score (claimReady says why), taken out of its line once
        -- it is known not to have expired (an expired one stays for a claim to expire)
        local line = lineKey(phyId)
        local head = rcall('ZRANGE', line, '0', '0')
        if #head == 0 then break end
        local id = head[1]
        local rec = made[id] or rcall('GET', cmdKey(id))
        if rec and recExpiresAt(rec) <= now then break end
        rcall('ZREMRANGEBYRANK', line, '0', '0')
        if rec then take(d, phyId, id, rec) end
      end
    end
    if #claimed > 0 then
      recordClaim(token, claimed, claim[1])
      meta.inflight = meta.inflight + #claimed
    end
  end
end
-- what the claim did not take goes to its line
for phyId, only in pairs(held) do rcall('ZADD', lineKey(phyId), only[1], only[2]) end

-- A device that may be sent to is in `ready` at its head's score, or its line was empty: so
-- ZADD LT with the best new score is exact. One the claim took from is put where it is now.
-- Left out (each a listpack or skiplist search in Redis): the `ready` entry of a device whose
-- queued commands were all in its line (noneWaiting), when its new head's priority is at most
-- the shard's lowest (its old head, queued earlier at no lower priority, stays ahead), and the
-- `expiry` entry of a device with queued commands when its new commands' TTL is at least the
-- shard's highest (its entry is at most an older command's expiresAt, no later than theirs).
local readyArgs, expiryArgs, wake = { 'LT' }, { 'LT' }, false
local bounded = meta.low ~= nil
local worstHead = bounded and noneWaiting and (9 - meta.low) * PRIORITY_STEP
for phyId in pairs(heads) do
  local d = devs[phyId]
  if taken[phyId] then
    -- its line held only this call's commands and no slot is left: it was not in `ready`
    if queuedBefore[phyId] or #d.inflight < maxInFlight then
      if refresh(phyId, d, now, maxInFlight) then wake = true end
    end
  elseif not (d.backoff > now or d.offline == 1 or #d.inflight >= maxInFlight) then
    if not (worstHead and queuedBefore[phyId] and heads[phyId] >= worstHead) then
      readyArgs[#readyArgs + 1] = headText[phyId]
      readyArgs[#readyArgs + 1] = phyId
    end
    wake = true
  end
end
-- Nor an `expiry` entry for a device whose every queued command this call made and its claim
-- took (one never written to its line): it has none queued, and a command that goes back to
-- its line notes its expiry then (noteExpiry).
for phyId, expiresAt in pairs(expiries) do
  local allTaken = taken[phyId] and not queuedBefore[phyId] and inLine[phyId] == 1 and not scheduledFor[phyId] and not held[phyId]
  if not allTaken and not (bounded and queuedBefore[phyId] and expiresAt - now >= meta.high) then
    expiryArgs[#expiryArgs + 1] = int(expiresAt)
    expiryArgs[#expiryArgs + 1] = phyId
  end
end
if #readyArgs > 1 then rcall('ZADD', K.ready, unpack(readyArgs)) end
if #expiryArgs > 1 then rcall('ZADD', K.expiry, unpack(expiryArgs)) end
writeDevs(devs)
writeMeta(meta)
if wake then publishWake(channel) end
if claim then return { out, bestScores(maxInFlight, depth), claim } end
return { out, bestScores(maxInFlight, depth) }
