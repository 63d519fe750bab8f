--[[
  Deletes dead letters of one shard for good.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] 'all' | 'ids'   ARGV[2] limit (for 'all')   ARGV[3..] ids (for 'ids')
  Returns the number deleted (ids that are not dead letters are skipped: safe to run twice).
]]
-- @include shard

local mode, limit = ARGV[1], tonumber(ARGV[2])
local ids
if mode == 'all' then
  ids = redis.call('ZRANGE', K.dead, 0, limit - 1)
else
  ids = {}
  for i = 3, #ARGV do table.insert(ids, ARGV[i]) end
end
local count = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', K.dead, id) == 1 then
    redis.call('DEL', cmdKey(id))
    count = count + 1
  end
end
return count
