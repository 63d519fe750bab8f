--[[
  Records device outcomes for in-flight commands of one shard: 'ok' -> acked, 'rejected' ->
  rejected, both kept for retentionMs (the payload dropped unless asked to keep it).

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] numbers, packed as doubles: maxInFlightPerDevice, retentionMs, depth, claim memory
          (ms), keep payload (1|0), n, the dispatcher's clock (epoch ms): an acked record's
          updatedAt, never earlier than its claim (Redis' time, the record's last transition);
          Redis' clock is read only to make a device in a retry wait ready again
  ARGV[2] wake channel
  then 5 per item: id, leaseToken, outcome and result (first byte: 'a' acked, 'j' rejected,
  'A'/'J' the same with a result, the rest of the string), replica ('' none: no delivered
  event), the id as events hold it (16 bytes)

  Returns {items, scores}: per item {code, status}: 0 OK (also when this token already made
  the transition: safe to run twice), -1 NOT_FOUND, -2 LEASE_LOST (status is the current one);
  and the shard's best `depth` claimable scores after the acks.

  Events: an acked command with a replica logs one entry, type acked with the replica in `v`,
  that stands for its delivered and acked events (readers answer both, event-log.ts); a
  rejected one logs delivered and rejected as two entries.

  Cost per command: GETDEL of its record's key, HSET of its finished form and one XADD (two
  when rejected), and once per device in the call an HGET of its state; one HSET (and HDEL) of
  every state the call changed (writeDevs). The batch's lease entry goes with its last command.
]]
-- @include v3

local maxInFlight, retentionMs, depth, memoryMs, keep, n, callerNow = sunpack('>ddddddd', ARGV[1])
local channel, keepPayload = ARGV[2], keep == 1
local out, devs, leases, done = {}, {}, {}, 0
for i = 1, n do
  local b = 2 + (i - 1) * 5
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], sbyte(ARGV[b + 3], 1)
  local rec, taken = takeRecord(id)
  if not rec then
    out[i] = { NOT_FOUND, '' }
  else
    local phyId, fixedEnd = recPhy(rec)
    local d = devs[phyId]
    if not d then
      d = readDev(phyId)
      devs[phyId] = d
    end
    local at = recStatus(rec) == QUEUED and inflightIndex(d, id)
    if at and d.inflight[at][2] == token then
      local status = (outcome == 97 or outcome == 65) and ACKED or REJECTED -- 'a' 'A' 
      local updatedAt, claimedAt = callerNow, d.inflight[at][3]
      if claimedAt > updatedAt then updatedAt = claimedAt end
      table.remove(d.inflight, at)
      d.pending = d.pending - 1
      local attempt = recAttempts(rec) + 1
      local cid, attemptText = ARGV[b + 5], int(attempt)
      local replica = ARGV[b + 4]
      if status == ACKED then
        -- one entry for delivered and acked: an acked entry carrying the replica (includes/v3.lua)
        commandEvent('a', id, phyId, attemptText, replica ~= '' and { 'r', replica } or nil, cid)
      else
        if replica ~= '' then commandEvent('d', id, phyId, attemptText, { 'r', replica }, cid) end
        commandEvent('j', id, phyId, attemptText, { 'e', 'rejected by the device' }, cid)
      end
      finishRecord(id, rec, status, attempt, updatedAt, retentionMs, token,
        status == REJECTED and 'rejected by the device' or nil, keepPayload,
        outcome < 97 and ssub(ARGV[b + 3], 2) or nil, taken, fixedEnd) -- 'A' 'J': with a result
      leaseDone(leases, token)
      done = done + 1
      out[i] = { OK, STATUS_NAME[status] }
    else
      if taken then putBack(id, rec) end -- pending or dead: no expiry to restore
      if token ~= '' and sameHolder(recTail(rec, fixedEnd), token) then
        out[i] = { OK, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
      else
        out[i] = { LEASE_LOST, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
      end
    end
  end
end
-- Wake waiting claimers only when the shard's ready set was empty: while it holds a device,
-- no claimer waits on this shard (a claim that came back short read every ready set first),
-- and other dispatchers re-ask a shard they have not heard from for 100 ms anyway. At claim
-- batch 1 this was one PUBLISH (a socket write) per command.
-- The devices ready again go into `ready` with one ZADD; a list is made only for a second one
-- (a table per call cost about 2k instructions at claim batch 1).
local wake, readyWasEmpty, now = false, nil, nil
local firstScore, firstPhyId, readyArgs = nil, nil, nil
for phyId, d in pairs(devs) do
  if d.pending > #d.inflight then
    if readyWasEmpty == nil then readyWasEmpty = rcall('ZCARD', K.ready) == 0 end
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
      if readyWasEmpty then wake = true end
    end
  end
end
if readyArgs then rcall('ZADD', K.ready, unpack(readyArgs))
elseif firstScore then rcall('ZADD', K.ready, firstScore, firstPhyId) end
writeDevs(devs)
if done > 0 then
  closeLeases(leases, int(memoryMs))
  local meta = readMeta()
  meta.size, meta.inflight = meta.size - done, meta.inflight - done
  writeMeta(meta)
end
expireBuckets(retentionMs)
if wake then publishWake(channel) end
return { out, bestScores(maxInFlight, depth) }
