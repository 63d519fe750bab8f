--[[
  Records a dispatcher's liveness until now + ttl (Redis clock), and drops the entries of
  dispatchers whose liveness lapsed (ones that were killed rather than stopped).

  KEYS[1] dispatcher info hash (id -> {startedAt, lastSeenAt, expiresAt})
  ARGV[1] dispatcher id
  ARGV[2] its start time (ms)
  ARGV[3] ttl in milliseconds

  Returns the heartbeat time (ms). Safe to run twice.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= ARGV[1] and cjson.decode(all[i + 1]).expiresAt <= now then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({
  startedAt = tonumber(ARGV[2]), lastSeenAt = now, expiresAt = now + tonumber(ARGV[3])
}))
return now
