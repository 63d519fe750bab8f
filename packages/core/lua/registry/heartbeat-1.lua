--[[
  Records a replica's liveness and delivery address until now + ttl (Redis clock).

  KEYS[1] replica info hash (replicaId -> {address, heartbeatAt, expiresAt})
  ARGV[1] replicaId
  ARGV[2] delivery address
  ARGV[3] ttl in milliseconds

  Returns the heartbeat time (ms). Safe to run twice.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({
  address = ARGV[2], heartbeatAt = now, expiresAt = now + tonumber(ARGV[3])
}))
return now
