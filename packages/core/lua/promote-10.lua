--[[
  Makes due work claimable (scheduled commands whose deliverAt passed, devices whose retry
  wait ended) and answers the scores of the best `max` commands a claim would take from this
  shard (the best ready devices' heads, and with maxInFlightPerDevice > 1 the next commands of
  a device while it has free slots), so a cross-shard claim can take from each shard what the
  merged order says. The caller asks for only a few (claim-plan.ts): each score answered
  costs a double-to-text conversion.

  KEYS[1..10]: the shard keys (see includes/shard.lua)
  ARGV[1] maxInFlightPerDevice   ARGV[2] max
  Returns up to `max` scores (strings), best first.
]]
-- @include shard

local maxInFlight, max = tonumber(ARGV[1]), tonumber(ARGV[2])
promoteDue(nowMs(), maxInFlight, 1000)
return bestScores(maxInFlight, max)
