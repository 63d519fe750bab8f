--[[
  Removes, in one shard, every route that still names a replica (drain, or cleanup after a
  replica died), and that replica's route set of the shard.

  KEYS[1] routes hash of the shard
  KEYS[2] the replica's route set in that shard
  ARGV[1] replicaId

  Returns how many routes were removed. Safe to run twice.
]]
local removed = 0
local members = redis.call('SMEMBERS', KEYS[2])
for _, phyId in ipairs(members) do
  local current = redis.call('HGET', KEYS[1], phyId)
  if current and cjson.decode(current).replicaId == ARGV[1] then
    redis.call('HDEL', KEYS[1], phyId)
    removed = removed + 1
  end
end
redis.call('DEL', KEYS[2])
return removed
