--[[
  Claims up to ARGV[1] ready commands of one shard, highest priority then oldest first,
  at most maxInFlightPerDevice per device. Promotes due scheduled commands and ended
  retry waits first, and expires (instead of sending) heads whose TTL passed.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  KEYS[11]   <prefix>:{s}:claim:<requestId>  string: the ids this request claimed, concatenated
  ARGV[1] max   ARGV[2] leaseMs   ARGV[3] maxInFlightPerDevice
  ARGV[4] requestId (also the lease token of every command claimed by this request)
  ARGV[5] how long to remember the request (ms)   ARGV[6] retentionMs
  ARGV[7] depth: how many of the shard's next best scores to answer after claiming (0 none)

  Returns {leaseExpiresAt, d, then d scores (the shard's best claimable commands left, best
  first, for the caller's next cross-shard plan), then 11 fields per claimed command: id,
  phyId, payload, priority, attempts, maxAttempts, ackTimeoutMs, expiresAt, createdAt,
  score, traceContext (nil none)}, best first; the lease token of every command is the requestId. max may be 0: the
  call then only promotes due work and answers the scores. Safe to run twice: a re-run with the same
  requestId claims nothing new and answers the commands the first run claimed that this
  token still holds.

  The claiming itself is includes/claim.lua (an enqueue may claim too).

  Cost: a device is in `ready` only while it may be sent to, scored by its head, so with
  maxInFlightPerDevice 1 the best `max` devices are one ZPOPMIN and each gives exactly its
  head (one ZPOPMIN of its line, one HMGET, one HSET, one SADD); leases and the request
  memory are written once per call.
]]
-- @include shard
-- @include claim

local max, leaseMs, maxInFlight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local token, retentionMs, depth = ARGV[4], tonumber(ARGV[6]), tonumber(ARGV[7]) or 0
local now = nowMs()

local prior = max > 0 and priorClaim(KEYS[11], token)
if prior then return prior end

promoteDue(now, maxInFlight, 1000)
local leaseExpiresAt, out = claimReady(max, leaseMs, maxInFlight, token, ARGV[5], retentionMs, KEYS[11], now)
local scores = bestScores(maxInFlight, depth)
local reply = { leaseExpiresAt, #scores }
for i = 1, #scores do reply[i + 2] = scores[i] end
local o = #reply
for i = 1, #out do reply[o + i] = out[i] end
return reply
