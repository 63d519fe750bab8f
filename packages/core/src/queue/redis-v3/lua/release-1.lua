--[[
  Gives in-flight commands of one shard back to the head of their device's line without
  spending the attempt the claim counted. With deviceOffline the device is parked: none of its
  commands is claimed until device-online.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] wake channel   ARGV[3] claim memory (ms)   ARGV[4] n
  then 4 per item: id, leaseToken, deviceOffline ('1'|'0'), reason ('' none)

  Returns per item {code, status}: 0 OK (also for a re-run by the same token), -1 NOT_FOUND,
  -2 LEASE_LOST.
]]
-- @include v3

local maxInFlight, channel, memoryMs, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = nowMs()
local out, devs, leases, returned = {}, {}, {}, 0
for i = 1, n do
  local b = 4 + (i - 1) * 4
  local id, token, offline, reason = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local rec = findRecord(id)
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
      table.remove(d.inflight, at)
      leaseDone(leases, token)
      rcall('SET', cmdKey(id), rewrite(rec, QUEUED, recAttempts(rec), now, token, reason ~= '' and reason or nil, nil, nil))
      rcall('ZADD', lineKey(phyId), int(recScore(rec)), id)
      noteExpiry(phyId, recExpiresAt(rec))
      if offline == '1' and d.offline == 0 then
        d.offline = 1
        rcall('SADD', K.offline, phyId)
        logEvent({ 't', 'off', 'p', phyId })
      end
      returned = returned + 1
      out[i] = { OK, 'queued' }
    elseif token ~= '' and sameHolder(recTail(rec, fixedEnd), token) then
      out[i] = { OK, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
    else
      out[i] = { LEASE_LOST, at and 'inflight' or STATUS_NAME[recStatus(rec)] }
    end
  end
end
local wake = false
for phyId, d in pairs(devs) do
  if refresh(phyId, d, now, maxInFlight) then wake = true end
  writeDev(phyId, d)
end
if returned > 0 then
  closeLeases(leases, memoryMs)
  local meta = readMeta()
  meta.inflight = meta.inflight - returned
  writeMeta(meta)
end
if wake then publishWake(channel) end
return out
