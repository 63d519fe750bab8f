--[[
  Keeps this shard's finished records (the `f:<minute>` hashes) within a byte budget, counted
  as `fbytes` counts them (includes/v3.lua): the hashes of the oldest creation minutes go first,
  whole, then random records of the oldest one left, until the shard is within its budget.
  Pending and dead commands live in their own keys, never in these hashes: nothing pending is
  ever trimmed. Also forgets the counts of hashes that expired by themselves.

  KEYS[1..10]: the shard keys (see includes/v3.lua)
  ARGV[1] budget in bytes (0: none, only count)   ARGV[2] retentionMs
  Returns {retained bytes after trimming, records trimmed}.
]]
-- @include v3

local budget, retentionMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = nowMs()
local index = K.prefix .. 'fbytes'
local entries = redis.call('ZRANGE', index, '0', '-1', 'WITHSCORES')
local buckets, total = {}, 0
for i = 1, #entries, 2 do
  local minute, bytes = entries[i], tonumber(entries[i + 1])
  -- A hash expires retentionMs after its last finish, so none created in a minute that
  -- began less than retentionMs ago can have expired: only older ones are looked up.
  if (tonumber(minute, 16) * 60000 + retentionMs > now or redis.call('EXISTS', K.prefix .. 'f:' .. minute) == 1) and bytes > 0 then
    buckets[#buckets + 1] = { minute, bytes }
    total = total + bytes
  else
    redis.call('ZREM', index, minute)
  end
end
table.sort(buckets, function(a, b) return a[1] < b[1] end) -- 7 hex digits: text order is time order

local trimmed, i = 0, 1
while budget > 0 and total > budget and i <= #buckets do
  local minute, bytes = buckets[i][1], buckets[i][2]
  local key = K.prefix .. 'f:' .. minute
  local count = redis.call('HLEN', key)
  if count == 0 or bytes <= total - budget then
    redis.call('UNLINK', key)
    redis.call('ZREM', index, minute)
    trimmed, total, i = trimmed + count, total - bytes, i + 1
  else
    -- Part of it: as many random records as the excess needs at this hash's mean size (at
    -- most 1000 per round), each counted at its own size; another round while still over.
    local take = math.min(count, 1000, math.ceil((total - budget) * count / bytes))
    local picked = redis.call('HRANDFIELD', key, int(take), 'WITHVALUES')
    local fields, freed = {}, 0
    for j = 1, #picked, 2 do
      fields[#fields + 1] = picked[j]
      freed = freed + #picked[j] + #picked[j + 1] + ENTRY_BYTES
    end
    redis.call('HDEL', key, unpack(fields))
    redis.call('ZINCRBY', index, int(-freed), minute)
    buckets[i][2] = bytes - freed
    trimmed, total = trimmed + #fields, total - freed
    if buckets[i][2] <= 0 then i = i + 1 end
  end
end
return { int(total), trimmed }
