--[[
  Claims up to ARGV[1] ready commands of one shard, highest priority then oldest first, at most
  maxInFlightPerDevice per device. Promotes due scheduled commands and ended retry waits first,
  and expires (instead of sending) heads whose TTL passed.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  claim:<token> (the shard's)  hash: ids (the ids claimed, concatenated), left (how many still
             hold this lease; absent when it is one)
  ARGV[1] numbers, packed as doubles: max, leaseMs, maxInFlightPerDevice, retentionMs, depth
          (how many of the shard's next best scores to answer), keep payload of finished
          commands (1|0)
  ARGV[2] token (request id)

  Returns {leaseExpiresAt, d, d scores, then per claimed command: id, record}, best first.
  Safe to run twice: a re-run with the same token claims nothing new and answers what the
  first run claimed that this token still holds.

  Cost per command: ZPOPMIN of its line, GET of its record, HGET of its device's state; one
  HSET of every device state the call changed (writeDevs), one lease entry and one request hash
  for the whole call.
]]
-- @include v3

local max, leaseMs, maxInFlight, retentionMs, depth, keep = sunpack('>dddddd', ARGV[1])
local token, keepPayload = ARGV[2], keep == 1
local now = nowMs()

local prior = max > 0 and rcall('HGET', claimKey(token), 'ids')
if prior then
  local out = { rcall('ZSCORE', K.leases, token) or '0', 0 }
  appendStillHeld(prior, token, out)
  return out
end

local meta = readMeta()
local metaChanged = promoteDue(now, maxInFlight, 1000, meta)
local out, claimed = {}, {}
local leaseExpiresAt = now + leaseMs

-- Device states read by this call (phyId -> state), written together once (writeDevs).
local devs = {}
-- Takes the head of a device that was in `ready` (and is out of it now). Answers nothing;
-- re-adds the device when it may still be sent to (a head that expired, free slots).
local function take(phyId)
  local d = devs[phyId]
  if not d then
    d = readDev(phyId)
    devs[phyId] = d
  end
  local head = rcall('ZPOPMIN', lineKey(phyId))
  if #head == 0 then return end
  local id = head[1]
  local rec = rcall('GET', cmdKey(id))
  if not rec then
    refresh(phyId, d, now, maxInFlight) -- index entry without a record: dropped
    return
  end
  if recExpiresAt(rec) <= now then
        commandEvent('e', id, phyId, nil, { 'e', 'ttl passed before delivery' })
    finishRecord(id, rec, EXPIRED, recAttempts(rec), now, retentionMs, '', 'ttl passed before delivery', keepPayload)
    d.pending = d.pending - 1
    meta.size = meta.size - 1
    metaChanged = true
    refresh(phyId, d, now, maxInFlight)
    return
  end
  d.inflight[#d.inflight + 1] = { id, token, now }
  claimed[#claimed + 1] = id
  out[#out + 1] = id
  out[#out + 1] = rec
  if maxInFlight > 1 then refresh(phyId, d, now, maxInFlight) end
end

while #claimed < max do
  local devices = rcall('ZRANGE', K.ready, '0', int(max - #claimed - 1))
  if #devices == 0 then break end
  if maxInFlight == 1 then
    -- each ready device gives exactly its head
    rcall('ZREMRANGEBYRANK', K.ready, '0', int(#devices - 1))
    for i = 1, #devices do take(devices[i]) end
  else
    rcall('ZREM', K.ready, devices[1]) -- take() re-adds it while it has free slots
    take(devices[1])
  end
end
if #claimed > 0 then
  rcall('ZADD', K.leases, int(leaseExpiresAt), token)
  -- a batch of one writes no `left`: the ack's HINCRBY of -1 on the missing field answers -1
  -- and closes the lease all the same
  if #claimed == 1 then rcall('HSET', claimKey(token), 'ids', claimed[1])
  else rcall('HSET', claimKey(token), 'ids', table.concat(claimed), 'left', int(#claimed)) end
  meta.inflight = meta.inflight + #claimed
  metaChanged = true
end
writeDevs(devs) -- before bestScores, which reads them
if metaChanged then writeMeta(meta) end -- a claim that took and promoted nothing writes nothing
expireBuckets(retentionMs)
local scores = bestScores(maxInFlight, depth)
local reply = { int(leaseExpiresAt), #scores }
for i = 1, #scores do reply[i + 2] = scores[i] end
local o = #reply
for i = 1, #out do reply[o + i] = out[i] end
return reply
