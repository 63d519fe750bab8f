--[[
  Keeps this shard's finished records (the `f:<minute>` hashes) and its event log (the `ev`
  stream) within one byte budget. Records count as `fbytes` counts them (includes/v3.lua), the
  stream as MEMORY USAGE measures it (its nodes' allocations, 5 of them sampled). Past the
  budget the oldest go first, and a record still held keeps every one of its events:
  - a whole creation minute goes while it fits in the excess with its share of the stream
    (the shard's stream bytes per record byte): its hash is unlinked and the stream cut at the
    start of the next minute, less CLOCK_SLACK_MS (an id carries its dispatcher's minute, an
    entry Redis' time);
  - the oldest minute left, when its share of the stream is at most 1/WALK_SHARE of the budget,
    loses random records, as many as the excess needs at the hash's mean size; their entries
    stay (counted) until the minute goes whole;
  - a minute with a larger share (a budget of few minutes) would so lose most of its records
    to entries it keeps: the stream is read from its oldest entry instead, each entry of a
    finished command taking the command's record with it, and cut after the last entry read.
    Reading costs about ten times the Redis time per record (three entries each, bench:trim),
    hence the cheaper way where it stays close.
  Pending and dead commands live in their own keys, never in these hashes: nothing pending is
  ever trimmed. Their entries older than the cut go with the others: a stream is cut at a time,
  and keeping a long-pending command's entries would keep every later one outside the budget.
  Also forgets the counts of hashes that expired by themselves.

  Every dispatcher runs it; with ARGV[3] > 0 a run within that many ms of the last one
  answers the last total (kept in `ftrim`) and does nothing else, so the shard's work does not
  grow with the number of dispatchers.

  KEYS[1]: the shard prefix (see includes/v3.lua)
  ARGV[1] budget in bytes (0: none, only count)   ARGV[2] retentionMs   ARGV[3] quiet ms (0: none)
  Returns {retained bytes after trimming (records and stream), records trimmed}.
]]
-- @include v3

local budget, retentionMs, quietMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local recent = K.prefix .. 'ftrim'
if quietMs > 0 then
  local last = rcall('GET', recent)
  if last then return { last, 0 } end
end
local now = nowMs()
local index = K.prefix .. 'fbytes'
local entries = rcall('ZRANGE', index, '0', '-1', 'WITHSCORES')
-- A hash expires retentionMs after its last finish, so none created in a minute that began
-- less than retentionMs ago can have expired: only older ones (7 hex digits, so text order is
-- time order) are looked up. The sort below runs only when over the budget: with 1,353
-- minutes in a shard a run took 1.0-1.3 ms of Redis time, 3.7 ms when every run sorted.
local lastExpirable = string.format('%07x', math.floor((now - retentionMs) / 60000))
local records, gone = 0, {}
for i = 1, #entries, 2 do
  local minute, bytes = entries[i], tonumber(entries[i + 1])
  if bytes <= 0 or (minute <= lastExpirable and rcall('EXISTS', K.prefix .. 'f:' .. minute) == 0) then
    rcall('ZREM', index, minute)
    gone[minute] = true
  else
    records = records + bytes
  end
end
local function streamBytes() return tonumber(rcall('MEMORY', 'USAGE', EVENTS_KEY, 'SAMPLES', '5')) or 0 end
local events = streamBytes()
local function answer(retained, trimmed)
  if quietMs > 0 then rcall('SET', recent, int(retained), 'PX', int(quietMs)) end
  return { int(retained), trimmed }
end
if budget <= 0 or records + events <= budget then return answer(records + events, 0) end
local buckets = {}
for i = 1, #entries, 2 do
  if not gone[entries[i]] then buckets[#buckets + 1] = { entries[i], tonumber(entries[i + 1]) } end
end
table.sort(buckets, function(a, b) return a[1] < b[1] end)
local length = rcall('XLEN', EVENTS_KEY)
local perEntry = length > 0 and events / length or 0
local CLOCK_SLACK_MS = 1000

-- Whole minutes go with UNLINK (freed off the main thread); at most 10 rounds of random
-- records per run bound the time it holds Redis, the next run goes on.
local WALK_SHARE = 8
local withEvents = records > 0 and (records + events) / records or 1
local trimmed, i, rounds, readStream = 0, 1, 0, false
while records + events > budget and i <= #buckets and rounds < 10 do
  local minute, bytes = buckets[i][1], buckets[i][2]
  local key = K.prefix .. 'f:' .. minute
  local count = rcall('HLEN', key)
  if count == 0 or bytes * withEvents <= records + events - budget then
    rcall('UNLINK', key)
    rcall('ZREM', index, minute)
    local cut = (tonumber(minute, 16) + 1) * 60000 - CLOCK_SLACK_MS
    local dropped = rcall('XTRIM', EVENTS_KEY, 'MINID', '~', int(cut))
    trimmed, records, events, i = trimmed + count, records - bytes, events - dropped * perEntry, i + 1
  elseif bytes * (withEvents - 1) * WALK_SHARE > budget then
    readStream = true -- below
    break
  else
    -- Part of it: as many random records as the excess needs at this hash's mean size (at
    -- most 1000 per round), each counted at its own size; another round while still over.
    rounds = rounds + 1
    local take = math.min(count, 1000, math.ceil((records + events - budget) * count / bytes))
    local picked = rcall('HRANDFIELD', key, int(take), 'WITHVALUES')
    local fields, freed = {}, 0
    for j = 1, #picked, 2 do
      fields[#fields + 1] = picked[j]
      freed = freed + #picked[j] + #picked[j + 1] + ENTRY_BYTES
    end
    rcall('HDEL', key, unpack(fields))
    rcall('ZINCRBY', index, int(-freed), minute)
    buckets[i][2] = bytes - freed
    trimmed, records = trimmed + #fields, records - freed
  end
end

-- A command id as an entry holds it (16 bytes, see packEventCommandId), as text.
local function entryCommandId(c)
  if #c ~= 16 then return c end
  local a, b, d, e = sunpack('>I4I4I4I4', c)
  return string.format('%08x-%04x-%04x-%04x-%04x%08x', a, math.floor(b / 65536), b % 65536, math.floor(d / 65536), d % 65536, e)
end

-- Then, for such a minute or when no record is left, the stream from its oldest entry until
-- within the budget: each round reads as many entries as the excess needs at the shard's mean
-- bytes per entry (records and stream), 1,000 at most; the record of each command whose first
-- entry it reads goes (their sizes in one HMGET per hash, one HDEL per hash), then the stream
-- is cut after the last entry read and measured again (a cut frees whole stream nodes only:
-- the next round reads on to the end of the node). At most 3,000 entries and 10 rounds a run
-- (reading costs about ten times what random records do, bench:trim): the next run goes on,
-- and a shard that falls behind drops whole minutes once its excess holds one.
local perWalked = length > 0 and (records + events) / length or 0
local from, seen, freedIn, reads, read = '-', {}, {}, 0, 0
if i > #buckets then readStream = true end
while readStream and records + events > budget and perWalked > 0 and reads < 10 and read < 3000 do
  reads = reads + 1
  local take = math.min(1000, 3000 - read, math.ceil((records + events - budget) / perWalked))
  local list = rcall('XRANGE', EVENTS_KEY, from, '+', 'COUNT', int(take))
  if #list == 0 then break end
  read = read + #list
  -- the commands this round meets first, by hash: entry n -> {c, hash, index in its group}
  local firsts, groups, met = {}, {}, {}
  for n, entry in ipairs(list) do
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'c' then
        local c = fields[j + 1]
        if c ~= '' and not seen[c] and not met[c] then
          met[c] = true
          local bucket, field = bucketOf(entryCommandId(c))
          if bucket then
            local group = groups[bucket] or {}
            groups[bucket] = group
            group[#group + 1] = field
            firsts[n] = { c, bucket, #group }
          end
        end
        break
      end
    end
  end
  local values = {}
  for bucket, group in pairs(groups) do values[bucket] = rcall('HMGET', bucket, unpack(group)) end
  local drops, last = {}, nil
  for n, entry in ipairs(list) do
    if records + events <= budget then break end
    last = entry[1]
    events = events - perEntry
    local first = firsts[n]
    if first then
      local c, bucket, at = first[1], first[2], first[3]
      seen[c] = true
      local value = values[bucket][at]
      if value then
        local field = groups[bucket][at]
        local drop = drops[bucket] or {}
        drops[bucket] = drop
        drop[#drop + 1] = field
        local minute, freed = ssub(bucket, #K.prefix + 3), #value + #field + ENTRY_BYTES
        freedIn[minute] = (freedIn[minute] or 0) + freed
        trimmed, records = trimmed + 1, records - freed
      end
    end
  end
  for bucket, fields in pairs(drops) do rcall('HDEL', bucket, unpack(fields)) end
  if not last then break end
  from = '(' .. last
  -- entries up to the last one read go (MINID: the first id after it), whole nodes at a time
  local ms, seq = string.match(last, '^(%d+)%-(%d+)$')
  rcall('XTRIM', EVENTS_KEY, 'MINID', '~', ms .. '-' .. int(tonumber(seq) + 1))
  events = streamBytes()
end
for minute, freed in pairs(freedIn) do rcall('ZINCRBY', index, int(-freed), minute) end
events = streamBytes() -- as the cuts left it
return answer(records + events, trimmed)
