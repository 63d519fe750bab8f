--[[
  Records device outcomes for in-flight commands of one shard (many per call: batching is
  the throughput lever). 'ok' -> acked, 'rejected' -> rejected; both kept for retentionMs.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] retentionMs   ARGV[3] wake channel   ARGV[4] n
  then 5 per item: id, leaseToken, outcome ('ok'|'rejected'), hasResult ('1'|'0'), result

  Returns per item {code, status}: 0 OK (also when this token already made the transition:
  safe to run twice), -1 NOT_FOUND, -2 LEASE_LOST (status is the command's current one).
]]
-- @include shard

local maxInFlight, retentionMs, channel, n = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local now = nowMs()
local out, wake = {}, false
for i = 1, n do
  local b = 4 + (i - 1) * 5
  local id, token, outcome = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local code, info = checkLease(id, token)
  if code == OK then
    local status = outcome == 'ok' and 'acked' or 'rejected'
    local extra = { 'doneToken', token, 'leaseToken', '' }
    if ARGV[b + 4] == '1' then table.insert(extra, 'result'); table.insert(extra, ARGV[b + 5]) end
    if status == 'rejected' then table.insert(extra, 'lastError'); table.insert(extra, 'rejected by the device') end
    finish(id, info, status, now, retentionMs, extra)
    if refreshDevice(info, now, maxInFlight) then wake = true end
    out[i] = { OK, status }
  elseif code == REPLAYED then
    out[i] = { OK, info }
  else
    out[i] = { code, info }
  end
end
if wake then redis.call('PUBLISH', channel, 'ack') end
return out
