-- 0009: webhooks (the dispatcher's /v1/webhooks) and their delivery state. Each webhook has a
-- cursor into the event log and a lease: the dispatcher holding an unexpired lease is the only
-- one delivering the webhook; after a crash another takes the lease once lease_until passes and
-- goes on from the saved cursor.
CREATE TABLE webhooks (
  id               uuid        PRIMARY KEY,
  url              text        NOT NULL,
  events           text[]      NOT NULL,
  phy_id_prefix    text,
  enabled          boolean     NOT NULL DEFAULT true,
  disabled_reason  text,
  created_at       timestamptz NOT NULL,
  secret           text        NOT NULL
);

CREATE TABLE webhook_state (
  webhook_id   uuid        PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
  cursor       text        NOT NULL,
  lease_owner  text,
  lease_until  timestamptz
);

-- The recent POSTs per webhook, for GET /v1/webhooks/{id}/deliveries (the newest 100 are kept).
CREATE TABLE webhook_deliveries (
  webhook_id   uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  seq          bigserial,
  event_id     text        NOT NULL,
  attempt      integer     NOT NULL,
  at           timestamptz NOT NULL,
  status_code  integer,
  error        text,
  duration_ms  integer     NOT NULL,
  PRIMARY KEY (webhook_id, seq)
);
