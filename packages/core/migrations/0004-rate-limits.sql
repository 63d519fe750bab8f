-- 0004: request counters for rate limits shared by every replica (rate-limiter-flexible's
-- RateLimiterPostgres layout; each limiter's keyPrefix keeps its keys apart).

-- Created here rather than by the library at start-up, so replicas starting together cannot
-- race on CREATE TABLE; expired rows are deleted by the limiter every five minutes.
CREATE TABLE rate_limits (
  key     varchar(255) PRIMARY KEY,
  points  integer      NOT NULL DEFAULT 0,
  expire  bigint
);
