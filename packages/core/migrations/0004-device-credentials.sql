-- 0004: per-device credentials for the challenge-response handshake.

-- One row per device that has a provisioned key or a revocation (a device with neither has
-- no row: its key is derived from the fleet secret). Key material lives only here.
CREATE TABLE device_credentials (
  phy_id      text        PRIMARY KEY,
  key         bytea       CHECK (key IS NULL OR octet_length(key) = 32),
  revoked_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
