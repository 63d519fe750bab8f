-- 0005: counters of the ingress handshake rate limits, shared by every replica.

-- The layout rate-limiter-flexible's RateLimiterPostgres expects (it is told the table exists,
-- so it never creates one itself): key = limiter prefix and key, points consumed in the
-- current window, expire = end of the window (epoch milliseconds).
CREATE TABLE rate_limits (
  key     varchar(255) PRIMARY KEY,
  points  integer      NOT NULL DEFAULT 0,
  expire  bigint
);
