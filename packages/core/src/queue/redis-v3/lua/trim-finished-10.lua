--[[
  Keeps this shard's finished records (the `f:<minute>` hashes) and its event log (the `ev`
  stream) within one byte budget. Records count as `fbytes` counts them (includes/v3.lua), the
  stream as MEMORY USAGE measures it (its nodes' allocations, 5 of them sampled). Past the
  budget the oldest go first, and a record still held keeps every one of its events:
  - a whole creation minute goes while it fits in the excess with its share of the stream
    (the shard's events per record byte): its hash is unlinked and the stream cut at the start
    of the next minute, less CLOCK_SLACK_MS (an id carries its dispatcher's minute, an entry
    Redis' time);
  - then the stream is read from its oldest entry: each entry of a finished command takes the
    command's record with it, and the stream is cut after the last entry read, until the shard
    is within its budget.
  Pending and dead commands live in their own keys, never in these hashes: nothing pending is
  ever trimmed. Their entries older than the cut go with the others: a stream is cut at a time,
  and keeping a long-pending command's entries would keep every later one outside the budget.
  Also forgets the counts of hashes that expired by themselves.

  Every dispatcher runs it; with ARGV[3] > 0 a run within that many ms of the last one
  answers the last total (kept in `ftrim`) and does nothing else, so the shard's work does not
  grow with the number of dispatchers.

  KEYS[1..10]: the shard keys (see includes/v3.lua)
  ARGV[1] budget in bytes (0: none, only count)   ARGV[2] retentionMs   ARGV[3] quiet ms (0: none)
  Returns {retained bytes after trimming (records and stream), records trimmed}.
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
local records, gone = 0, {}
for i = 1, #entries, 2 do
  local minute, bytes = entries[i], tonumber(entries[i + 1])
  if bytes <= 0 or (minute <= lastExpirable and redis.call('EXISTS', K.prefix .. 'f:' .. minute) == 0) then
    redis.call('ZREM', index, minute)
    gone[minute] = true
  else
    records = records + bytes
  end
end
local function streamBytes() return tonumber(redis.call('MEMORY', 'USAGE', EVENTS_KEY, 'SAMPLES', '5')) or 0 end
local events = streamBytes()
local function answer(retained, trimmed)
  if quietMs > 0 then redis.call('SET', recent, int(retained), 'PX', int(quietMs)) end
  return { int(retained), trimmed }
end
if budget <= 0 or records + events <= budget then return answer(records + events, 0) end
local buckets = {}
for i = 1, #entries, 2 do
  if not gone[entries[i]] then buckets[#buckets + 1] = { entries[i], tonumber(entries[i + 1]) } end
end
table.sort(buckets, function(a, b) return a[1] < b[1] end)
local length = redis.call('XLEN', EVENTS_KEY)
local perEntry = length > 0 and events / length or 0
local CLOCK_SLACK_MS = 1000

-- Whole minutes, with UNLINK (freed off the main thread).
local withEvents = records > 0 and (records + events) / records or 1
local trimmed, i = 0, 1
while records + events > budget and i <= #buckets do
  local minute, bytes = buckets[i][1], buckets[i][2]
  local key = K.prefix .. 'f:' .. minute
  local count = redis.call('HLEN', key)
  if count > 0 and bytes * withEvents > records + events - budget then break end
  redis.call('UNLINK', key)
  redis.call('ZREM', index, minute)
  local cut = (tonumber(minute, 16) + 1) * 60000 - CLOCK_SLACK_MS
  local dropped = redis.call('XTRIM', EVENTS_KEY, 'MINID', '~', int(cut))
  trimmed, records, events, i = trimmed + count, records - bytes, events - dropped * perEntry, i + 1
end

-- A command id as an entry holds it (16 bytes, see packEventCommandId), as text.
local function entryCommandId(c)
  if #c ~= 16 then return c end
  local hex = string.format('%08x%08x%08x%08x', sunpack('>I4I4I4I4', c))
  return ssub(hex, 1, 8) .. '-' .. ssub(hex, 9, 12) .. '-' .. ssub(hex, 13, 16) .. '-' .. ssub(hex, 17, 20) .. '-' .. ssub(hex, 21)
end

-- Then the stream from its oldest entry, until within the budget: each round reads as many
-- entries as the excess needs at the shard's mean bytes per entry (records and stream), 1,000
-- at most, cuts the stream after the last one and measures it again (a cut frees whole stream
-- nodes only: the next round reads on to the end of the node); at most 10 rounds a run bound
-- the time it holds Redis, the next run goes on.
local perWalked = length > 0 and (records + events) / length or 0
local from, rounds, seen, freedIn = '-', 0, {}, {}
while records + events > budget and perWalked > 0 and rounds < 10 do
  rounds = rounds + 1
  local take = math.min(1000, math.ceil((records + events - budget) / perWalked))
  local list = redis.call('XRANGE', EVENTS_KEY, from, '+', 'COUNT', int(take))
  if #list == 0 then break end
  local last
  for _, entry in ipairs(list) do
    if records + events <= budget then break end
    last = entry[1]
    events = events - perEntry
    local fields = entry[2]
    for j = 1, #fields, 2 do
      local c = fields[j + 1]
      if fields[j] == 'c' and c ~= '' and not seen[c] then
        seen[c] = true
        local bucket, field = bucketOf(entryCommandId(c))
        local size = bucket and redis.call('HSTRLEN', bucket, field) or 0
        if size > 0 then
          redis.call('HDEL', bucket, field)
          local minute, freed = ssub(bucket, #K.prefix + 3), size + #field + ENTRY_BYTES
          freedIn[minute] = (freedIn[minute] or 0) + freed
          trimmed, records = trimmed + 1, records - freed
        end
      end
    end
  end
  from = '(' .. last
  -- entries up to the last one read go (MINID: the first id after it), whole nodes at a time
  local ms, seq = string.match(last, '^(%d+)%-(%d+)$')
  redis.call('XTRIM', EVENTS_KEY, 'MINID', '~', ms .. '-' .. int(tonumber(seq) + 1))
  events = streamBytes()
end
for minute, freed in pairs(freedIn) do redis.call('ZINCRBY', index, int(-freed), minute) end
if rounds == 0 then events = streamBytes() end -- after whole minutes alone
return answer(records + events, trimmed)
