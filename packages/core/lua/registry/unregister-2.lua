--[[
  Removes a device's route only if it still names this connection (fencing): a connection
  that closes after a newer one registered must not remove the newer route.

  KEYS[1] routes hash of the phyId's shard
  KEYS[2] this replica's route set in that shard
  ARGV[1] phyId
  ARGV[2] replicaId
  ARGV[3] epoch of the closing connection

  Returns 1 when the route was removed, 0 when it named another connection (or none).
  Safe to run twice: the second run finds nothing to remove.
]]
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  redis.call('SREM', KEYS[2], ARGV[1])
  return 0
end
local route = cjson.decode(current)
if route.replicaId == ARGV[2] and tostring(route.epoch) == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
-- A newer connection on this same replica keeps its set entry; any other owner drops ours.
if route.replicaId ~= ARGV[2] then
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 0
