--[[
  Answers which replicas hold a heartbeat that has not lapsed (Redis clock).

  KEYS[1] replica info hash (or the dispatcher info hash: any hash of JSON with expiresAt)
  ARGV    replicaIds to check; none means every replica

  Returns a flat list {replicaId, info JSON, ...} of the live ones. Read-only.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
local function check(id, raw)
  if raw then
    local info = cjson.decode(raw)
    if info.expiresAt > now then
      out[#out + 1] = id
      out[#out + 1] = raw
    end
  end
end
if #ARGV == 0 then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do check(all[i], all[i + 1]) end
else
  local values = redis.call('HMGET', KEYS[1], unpack(ARGV))
  for i = 1, #ARGV do check(ARGV[i], values[i]) end
end
return out
