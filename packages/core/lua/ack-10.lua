--[[
  Records device outcomes for in-flight commands of one shard (many per call: batching is
  the throughput lever). 'ok' -> acked, 'rejected' -> rejected; both kept for retentionMs.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] retentionMs   ARGV[3] wake channel
  ARGV[4] depth: how many of the shard's best claimable scores to answer (0 none)   ARGV[5] n
  then 6 per item: id, leaseToken, outcome ('ok'|'rejected'), hasResult ('1'|'0'), result,
                   replica ('' none: no delivered event)

  Returns {items, scores}: per item {code, status}: 0 OK (also when this token already made
  the transition: safe to run twice), -1 NOT_FOUND, -2 LEASE_LOST (status is the command's
  current one); and the shard's best `depth` claimable scores after the acks (an ack frees
  its device for its next command), for the caller's next cross-shard plan.

  Cost: an in-flight command is in no line and no schedule, so only its lease, expiry and
  in-flight entries go (the two zsets in one ZREM each for the whole call), and its device is
  re-checked only while it still has pending commands.
]]
-- @include shard

local maxInFlight, retentionMs, channel = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local depth, n = tonumber(ARGV[4]), tonumber(ARGV[5])
local now = nowMs()
local nowText = int(now)
local out, wake, done = {}, false, {}
for i = 1, n do
  local b = 5 + (i - 1) * 6
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local code, info = checkLease(id, token)
  if code == OK then
    local status = outcome == 'ok' and 'acked' or 'rejected'
    local extra = { 'doneToken', token, 'leaseToken', '' }
    if ARGV[b + 4] == '1' then extra[5] = 'result'; extra[6] = ARGV[b + 5] end
    if status == 'rejected' then extra[#extra + 1] = 'lastError'; extra[#extra + 1] = 'rejected by the device' end
    redis.call('SREM', inflightKey(info), id)
    local attempt = redis.call('HGET', cmdKey(id), 'attempts')
    local outcome = { status == 'acked' and 'a' or 'j', status == 'rejected' and { 'e', 'rejected by the device' } or nil }
    if ARGV[b + 6] ~= '' then
      commandEvents(id, info, attempt, { { 'd', { 'r', ARGV[b + 6] } }, outcome })
    else
      commandEvents(id, info, attempt, { outcome })
    end
    done[#done + 1] = id
    if closeRecord(id, info, status, nowText, ARGV[2], extra) > 0 and refreshDevice(info, now, maxInFlight) then wake = true end
    out[i] = { OK, status }
  elseif code == REPLAYED then
    out[i] = { OK, info }
  else
    out[i] = { code, info }
  end
end
if #done > 0 then
  redis.call('ZREM', K.leases, unpack(done))
  redis.call('ZREM', K.expiry, unpack(done))
  redis.call('HINCRBY', K.meta, 'size', -#done)
end
if wake then publishWake(channel) end
return { out, bestScores(maxInFlight, depth) }
