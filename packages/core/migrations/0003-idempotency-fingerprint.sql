-- 0003: what a keyed command asked for, so a repeat of its idempotency key with another payload
-- or other parameters is refused (IDEMPOTENCY_CONFLICT) instead of answering the first command.
-- A hash of the device, payload and parameters (enqueueFingerprint in src/command/idempotency.ts),
-- written only with a key. Rows from before this migration have none and answer as duplicates.
ALTER TABLE commands ADD COLUMN idempotency_fingerprint text;
