--[[
  Keeps this shard's finished records (the `f:<minute>` hashes) within a byte budget, counted
  as `fbytes` counts them (includes/v3.lua): the hashes of the oldest creation minutes go first,
  whole, then random records of the oldest one left, until the shard is within its budget.
  Pending and dead commands live in their own keys, never in these hashes: nothing pending is
  ever trimmed. Also forgets the counts of hashes that expired by themselves.

  Every dispatcher runs it; with ARGV[3] > 0 a run within that many ms of the last one
  answers the last total (kept in `ftrim`) and does nothing else, so the shard's work does not
  grow with the number of dispatchers.

  KEYS[1..10]: the shard keys (see includes/v3.lua)
  ARGV[1] budget in bytes (0: none, only count)   ARGV[2] retentionMs   ARGV[3] quiet ms (0: none)
  Returns {retained bytes after trimming, records trimmed}.
]]
-- @include v3

local budget, retentionMs, quietMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recent = K.prefix .. 'ftrim'
if quietMs > 0 then
  local last = redis.call('GET', recent)
  if last then return { last, 0 } end
end
local now = nowMs()
local index = K.prefix .. 'fbytes'
local entries = redis.call('ZRANGE', index, '0', '-1', 'WITHSCORES')
-- A hash expires retentionMs after its last finish, so none created in a minute that began
-- less than retentionMs ago can have expired: only older ones (7 hex digits, so text order is
-- time order) are looked up. The sort below runs only when over the budget: with 1,353
-- minutes in a shard a run took 1.0-1.3 ms of Redis time, 3.7 ms when every run sorted.
local lastExpirable = string.format('%07x', math.floor((now - retentionMs) / 60000))
local total, gone = 0, {}
for i = 1, #entries, 2 do
  local minute, bytes = entries[i], tonumber(entries[i + 1])
  if bytes <= 0 or (minute <= lastExpirable and redis.call('EXISTS', K.prefix .. 'f:' .. minute) == 0) then
    redis.call('ZREM', index, minute)
    gone[minute] = true
  else
    total = total + bytes
  end
end
local function answer(retained, trimmed)
  if quietMs > 0 then redis.call('SET', recent, int(retained), 'PX', int(quietMs)) end
  return { int(retained), trimmed }
end
if budget <= 0 or total <= budget then return answer(total, 0) end
local buckets = {}
for i = 1, #entries, 2 do
  if not gone[entries[i]] then buckets[#buckets + 1] = { entries[i], tonumber(entries[i + 1]) } end
end
table.sort(buckets, function(a, b) return a[1] < b[1] end)

-- Whole hashes go with UNLINK (freed off the main thread); at most 10 rounds of single
-- records per run bound the time it holds Redis, the next run goes on.
local trimmed, i, rounds = 0, 1, 0
while total > budget and i <= #buckets and rounds < 10 do
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
    rounds = rounds + 1
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
return answer(total, trimmed)
