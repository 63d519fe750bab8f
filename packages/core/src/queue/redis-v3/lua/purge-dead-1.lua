--[[
  Deletes dead letters. KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] 'all'|'ids'   ARGV[2] limit, then the ids. Returns how many went.
]]
-- @include v3

local mode, limit = ARGV[1], tonumber(ARGV[2])
local ids
if mode == 'all' then
  ids = rcall('ZRANGE', K.dead, 0, limit - 1)
else
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local count = 0
for _, id in ipairs(ids) do
  if rcall('ZREM', K.dead, id) == 1 then
    rcall('DEL', cmdKey(id))
    count = count + 1
  end
end
return count
