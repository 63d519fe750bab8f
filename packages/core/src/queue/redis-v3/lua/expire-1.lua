--[[
  The sparse TTL sweep: claims expire a head whose TTL passed as they meet it, and this finds
  the rest. Each device with queued commands has one entry in `expiry` at the earliest
  expiresAt noted for it; a device that is due has its line and schedule read, its expired
  queued commands finished as `expired`, and its entry moved to its next expiry (or dropped).
  Finished commands leave by their own PX (retention), so nothing else is swept but the
  shard's event log, trimmed to retentionMs.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] limit (devices)   ARGV[2] maxInFlightPerDevice   ARGV[3] retentionMs
  ARGV[4] keep payload ('1'|'0')
  Returns the number of commands expired.
]]
-- @include v3

local limit, maxInFlight, retentionMs, keepPayload = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local now = nowMs()
trimEvents(now, retentionMs)
local devices = rcall('ZRANGEBYSCORE', K.expiry, '-inf', now, 'LIMIT', 0, limit)
local count = 0
for _, phyId in ipairs(devices) do
  local d = readDev(phyId)
  local nextExpiry = nil
  local function sweep(ids, index)
    for _, id in ipairs(ids) do
      local rec = rcall('GET', cmdKey(id))
      if not rec then
        rcall('ZREM', index, id)
      else
        local expiresAt = recExpiresAt(rec)
        if expiresAt <= now then
          rcall('ZREM', index, id)
          if index ~= lineKey(phyId) then rcall('ZREM', K.scheduled, id) end
          commandEvent('e', id, phyId, nil, { 'e', 'ttl passed before delivery' })
          finishRecord(id, rec, EXPIRED, recAttempts(rec), now, retentionMs, '', 'ttl passed before delivery', keepPayload)
          d.pending = d.pending - 1
          count = count + 1
        elseif not nextExpiry or expiresAt < nextExpiry then
          nextExpiry = expiresAt
        end
      end
    end
  end
  sweep(rcall('ZRANGE', lineKey(phyId), 0, -1), lineKey(phyId))
  sweep(rcall('ZRANGE', schedKey(phyId), 0, -1), schedKey(phyId))
  if nextExpiry then rcall('ZADD', K.expiry, nextExpiry, phyId) else rcall('ZREM', K.expiry, phyId) end
  refresh(phyId, d, now, maxInFlight)
  writeDev(phyId, d)
end
if count > 0 then
  local meta = readMeta()
  meta.size = meta.size - count
  writeMeta(meta)
end
expireBuckets(retentionMs)
return count
