-- The event log's writers, shared by both layouts' includes (each inlines it with
-- `-- @include event-log`): they need K.prefix (the shard's key prefix) and int().
-- nil while a function library loads (no keys yet): its per-call setup sets it.
local EVENTS_KEY = K.prefix and K.prefix .. 'ev'
-- Every entry has the same six fields in the same order, so a stream node keeps their names
-- once (in its master entry) and each entry only its values: t the type as a number, c the
-- command id in 16 bytes, p phyId, n attempt, v the detail the type carries (replica for d,
-- reason for r/j/x/e, priority for q), w retryAt; '' when absent. Redis keeps numbers as
-- integers. Callers name the fields as above, with r, e and o for what lands in v.
-- The codes are text: redis.call turns a Lua number into text with printf's %.17g (about 2k
-- instructions an entry); Redis stores the text as an integer all the same.
local EVENT_TYPE_CODE = { q = '1', d = '2', r = '3', a = '4', j = '5', x = '6', e = '7', c = '8', on = '9', off = '10' }
local EVENT_SLOT = { t = 1, c = 2, p = 3, n = 4, r = 5, e = 5, o = 5, w = 6 }
-- A command id in 16 bytes. The stores mint every id as 8-4-4-4-12 lowercase hex digits, the
-- shape this packs (the dashes are not checked: a string.find of the shape cost 6k instructions
-- an entry); an id of another length or with a non-hex run stays text. About 14k instructions
-- an id: scripts given the ids by the caller take them packed (eventCommandId in event-log.ts).
local function packEventCommandId(id)
  if #id ~= 36 then return id end
  local a, b = tonumber(string.sub(id, 1, 8), 16), tonumber(string.sub(id, 10, 13) .. string.sub(id, 15, 18), 16)
  local c, d = tonumber(string.sub(id, 20, 23) .. string.sub(id, 25, 28), 16), tonumber(string.sub(id, 29, 36), 16)
  if not (a and b and c and d) then return id end
  return struct.pack('>I4I4I4I4', a, b, c, d)
end
-- Appends one entry from its values in the fixed order ('' for none), the command id packed
-- (packEventCommandId); answers its id.
local function appendEvent(t, cid, phyId, attempt, detail, retryAt)
  return redis.call('XADD', EVENTS_KEY, '*', 't', EVENT_TYPE_CODE[t], 'c', cid, 'p', phyId, 'n', attempt, 'v', detail, 'w', retryAt)
end
-- Appends one entry (fields: a flat field/value list of the names above, c the id as text);
-- answers its id.
local function logEvent(fields)
  local v = { '', '', '', '', '', '' }
  for i = 1, #fields, 2 do v[EVENT_SLOT[fields[i]]] = fields[i + 1] end
  if v[2] ~= '' then v[2] = packEventCommandId(v[2]) end
  return appendEvent(v[1], v[2], v[3], v[4], v[5], v[6])
end
-- Drops entries older than the retention, whole stream nodes at a time (the expiry sweep runs
-- it once per call: a MINID on every XADD cost ~0.6 us of Redis CPU per entry).
local function trimEvents(now, retentionMs) redis.call('XTRIM', EVENTS_KEY, 'MINID', '~', int(now - retentionMs)) end
