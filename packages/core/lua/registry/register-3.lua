--[[
  Records a new connection of a device: the route registry's `register`.

  KEYS[1] routes hash of the phyId's shard          (phyId -> route JSON)
  KEYS[2] epochs hash of the phyId's shard          (phyId -> last epoch)
  KEYS[3] this replica's route set in that shard    (phyIds it holds)
  ARGV[1] phyId
  ARGV[2] replicaId
  ARGV[3] replica delivery address
  ARGV[4] connection token (unique per connection; makes a re-run idempotent)
  ARGV[5] device-online channel
  ARGV[6] superseded channel prefix (the previous route's replicaId is appended)

  Returns {epoch, previous route JSON or ''}.
  A re-run with the same token (ioredis re-sends after a reconnect) answers the epoch it
  already assigned, with previous '' and without publishing again.
  Publishes phyId on the device-online channel, and `<previous epoch>:<phyId>` to the
  previous route's replica so it closes its older connection (SUPERSEDED).
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local route = cjson.decode(current)
  if route.token == ARGV[4] then
    return {route.epoch, ''}
  end
end
local epoch = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({
  replicaId = ARGV[2], epoch = epoch, address = ARGV[3], connectedAt = now, token = ARGV[4]
}))
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[5], ARGV[1])
if current then
  local previous = cjson.decode(current)
  redis.call('PUBLISH', ARGV[6] .. previous.replicaId, previous.epoch .. ':' .. ARGV[1])
end
return {epoch, current or ''}
