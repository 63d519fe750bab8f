--[[
  Claiming ready commands of one shard (inlined by the loader at "-- @include claim", after
  "-- @include shard"): the claim script, and an enqueue that claims what it made ready for a
  dispatch loop of the enqueuing process.

  A claim request is remembered under <shard prefix>claim:<token> (the ids it claimed,
  concatenated), so a re-sent script answers what the first run claimed instead of claiming more.
]]

-- What an earlier run of this request claimed that `token` still holds, as a claim reply
-- {leaseExpiresAt, 0, then 11 fields per command}; nil when the request is new.
local function priorClaim(requestKey, token)
  local prior = redis.call('GET', requestKey)
  if not prior then return nil end
  local out = { '', 0 }
  for p = 1, #prior, 36 do
    local id = string.sub(prior, p, p + 35)
    local f = redis.call('HMGET', cmdKey(id), 'phyId', 'payload', 'priority', 'attempts', 'maxAttempts',
      'ackTimeoutMs', 'expiresAt', 'createdAt', 'score', 'leaseToken', 'leaseExpiresAt', 'traceContext')
    if f[1] and f[10] == token then
      out[1] = f[11]
      local o = #out
      out[o + 1] = id
      for j = 1, 9 do out[o + 1 + j] = f[j] end
      out[o + 11] = f[12]
    end
  end
  return out
end

-- Claims up to `max` ready commands, highest priority then oldest first, at most maxInFlight
-- per device, each leased to `token` until leaseExpiresAt; remembers the request for memoryMs.
-- Answers leaseExpiresAt (text) and 11 fields per claimed command (id, phyId, payload,
-- priority, attempts, maxAttempts, ackTimeoutMs, expiresAt, createdAt, score, traceContext).
local function claimReady(max, leaseMs, maxInFlight, token, memoryMs, retentionMs, requestKey, now)
  local leaseExpiresAt = int(now + leaseMs)
  local nowText = int(now)
  local out, claimed, leases = {}, {}, {}

  -- Takes the head of a device that was in `ready`; answers false when the head was gone or
  -- expired (the device was re-checked) and nothing was claimed.
  local function take(phyId)
    local line = lineKey(phyId)
    local head = redis.call('ZPOPMIN', line)
    if #head == 0 then
      refreshDevice(phyId, now, maxInFlight)
      return false
    end
    local id, score = head[1], head[2]
    local key = cmdKey(id)
    local f = redis.call('HMGET', key, 'payload', 'priority', 'attempts', 'maxAttempts', 'ackTimeoutMs', 'expiresAt', 'createdAt', 'traceContext')
    local expiresAt = tonumber(f[6])
    if not expiresAt then
      refreshDevice(phyId, now, maxInFlight) -- index entry without a record: dropped
      return false
    end
    if expiresAt <= now then
      finish(id, phyId, 'expired', now, retentionMs, { 'lastError', 'ttl passed before delivery' })
      commandEvent('e', id, phyId, nil, { 'e', 'ttl passed before delivery' })
      refreshDevice(phyId, now, maxInFlight)
      return false
    end
    local attempts = int((tonumber(f[3]) or 0) + 1)
    redis.call('SADD', inflightKey(phyId), id)
    redis.call('HSET', key, 'status', 'inflight', 'attempts', attempts, 'leaseToken', token, 'doneToken', '',
      'leaseExpiresAt', leaseExpiresAt, 'updatedAt', nowText, 'retryAt', '')
    claimed[#claimed + 1] = id
    leases[#leases + 1] = leaseExpiresAt
    leases[#leases + 1] = id
    local o = #out
    out[o + 1] = id; out[o + 2] = phyId; out[o + 3] = f[1]; out[o + 4] = f[2]; out[o + 5] = attempts
    out[o + 6] = f[4]; out[o + 7] = f[5]; out[o + 8] = f[6]; out[o + 9] = f[7]; out[o + 10] = score
    out[o + 11] = f[8]
    return true
  end

  if maxInFlight == 1 then
    -- Each ready device gives exactly its head, so the best `max` devices hold the best `max`
    -- commands; a device whose head expired is re-scored by its next command and competes again.
    while #claimed < max do
      local devices = redis.call('ZRANGE', K.ready, 0, max - #claimed - 1) -- no scores: each costs a float-to-text
      if #devices == 0 then break end
      redis.call('ZREMRANGEBYRANK', K.ready, 0, #devices - 1)
      for i = 1, #devices do take(devices[i]) end
    end
  else
    while #claimed < max do
      local top = redis.call('ZPOPMIN', K.ready)
      if #top == 0 then break end
      take(top[1])
      refreshDevice(top[1], now, maxInFlight)
    end
  end
  if #claimed > 0 then
    redis.call('ZADD', K.leases, unpack(leases))
    redis.call('SET', requestKey, table.concat(claimed), 'PX', memoryMs)
  end
  return leaseExpiresAt, out
end
