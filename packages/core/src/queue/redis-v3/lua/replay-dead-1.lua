--[[
  Requeues dead letters with attempts reset, a fresh TTL and a place at the end of their line.
  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] wake channel   ARGV[3] 'all'|'ids'   ARGV[4] limit
  then the ids. Returns how many moved.
]]
-- @include v3

local maxInFlight, channel, mode, limit = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local now, nowUs = clockNow()
local ids
if mode == 'all' then
  ids = rcall('ZRANGE', K.dead, 0, limit - 1)
else
  ids = {}
  for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local meta = readMeta()
local count, wake, devs = 0, false, {}
for _, id in ipairs(ids) do
  if rcall('ZREM', K.dead, id) == 1 then
    local rec = rcall('GET', cmdKey(id))
    if rec and recStatus(rec) == DEAD then
      local phyId, fixedEnd = recPhy(rec)
      local _, err, payload, _, events = recTail(rec, fixedEnd)
      local priority = sbyte(rec, 39)
      local score = (9 - priority) * PRIORITY_STEP + takeSeq(meta, 1, nowUs)
      local ttlMs = recTtl(rec)
      local expiresAt = now + ttlMs
      -- queued again: the shard's bounds (readMeta) take it in
      if meta.low then
        if priority < meta.low then meta.low = priority end
        if ttlMs > meta.high then meta.high = ttlMs end
      end
      local flags = bit.band(sbyte(rec, 1), 2)
      rcall('SET', cmdKey(id), spack('>BBI4dddd', flags, QUEUED, 0, now, (sunpack('>d', rec, 15)), expiresAt, score)
        .. ssub(rec, 39, fixedEnd) .. string.char(0) .. spack('>H', #err) .. err .. spack('>I4', #payload) .. payload
        .. events .. packEventId(logEvent({ 't', 'q', 'c', id, 'p', phyId, 'o', int(priority) })))
      local d = devs[phyId]
      if not d then
        d = readDev(phyId)
        devs[phyId] = d
      end
      d.pending = d.pending + 1
      meta.size = meta.size + 1
      rcall('ZADD', lineKey(phyId), int(score), id)
      noteExpiry(phyId, expiresAt)
      count = count + 1
    end
  end
end
for phyId, d in pairs(devs) do
  if refresh(phyId, d, now, maxInFlight) then wake = true end
  writeDev(phyId, d)
end
writeMeta(meta)
if wake then publishWake(channel) end
return count
