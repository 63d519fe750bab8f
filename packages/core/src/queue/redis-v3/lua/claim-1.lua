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
  ARGV[2] token (request id; ending in '.': a claim of one command at most, whose outcome
          closes its lease without counting down `left`)

  Returns {leaseExpiresAt ('0' when it claimed nothing), d, d scores, then per claimed command:
  id, record}, best first.
  Safe to run twice: a re-run with the same token claims nothing new and answers what the
  first run claimed that this token still holds.

  The claim itself is claimReady (includes/v3.lua), which an ack that claims runs too.
  Cost per command: ZRANGE and ZREMRANGEBYRANK of its line's head (a ZPOPMIN would answer the
  head's score too, printed as text), GET of its record, HGET of its device's state; one
  HSET of every device state the call changed (writeDevs), one lease entry and one request hash
  for the whole call (recordClaim).
]]
-- @include v3

local max, leaseMs, maxInFlight, retentionMs, depth, keep = sunpack('>dddddd', ARGV[1])
local token, keepPayload = ARGV[2], keep == 1
-- a token ending in '.' leases one command at most (closeLeases closes it with its one outcome)
if max > 1 and sbyte(token, -1) == 46 then max = 1 end

local prior = max > 0 and rcall('HGET', claimKey(token), 'ids')
if prior then
  local out = { rcall('ZSCORE', K.leases, token) or '0', 0 }
  appendStillHeld(prior, token, out)
  return out
end

-- Redis' clock: read to promote only when something is scheduled or waits for a retry
-- (meta.due), else by claimReady once `ready` names a device (a claim that finds nothing reads none)
local meta, lease, metaChanged = readMeta(), { ms = leaseMs }, false
if meta.due < NEVER then
  lease.now = nowMs()
  metaChanged = promoteDue(lease.now, maxInFlight, 1000, meta)
end
local out, devs = {}, {}
-- device states read by this call (phyId -> state), written together once (writeDevs)
local _, claimChanged, readyEmpty = claimReady(max, token, lease, maxInFlight, retentionMs, keepPayload, meta, devs, out, nil)
if claimChanged then metaChanged = true end
writeDevs(devs) -- before bestScores, which reads them
if metaChanged then writeMeta(meta) end -- a claim that took and promoted nothing writes nothing
expireBuckets(retentionMs)
-- none when the claim saw `ready` empty (nothing since adds to it)
local scores = readyEmpty and {} or bestScores(maxInFlight, depth)
local reply = { lease.text or '0', #scores } -- leaseExpiresAt ('0': nothing claimed)
for i = 1, #scores do reply[i + 2] = scores[i] end
local o = #reply
for i = 1, #out do reply[o + i] = out[i] end
return reply
