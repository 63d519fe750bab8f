import { createHash } from 'node:crypto';
import type { EnqueueInput } from './types';

/**
 * What an idempotency key promises: a repeat with the same key answers the first command only
 * when it asks for the same thing. The fingerprint covers the device, the payload and every
 * parameter (priority, ttlMs, ackTimeoutMs, maxAttempts, deliverAt), never the key itself; the
 * store keeps it with the command and compares it on a repeat (IDEMPOTENCY_CONFLICT when it
 * differs). Defaults are applied before hashing, so leaving a field out and sending its default
 * ask for the same thing.
 */
export function enqueueFingerprint(input: EnqueueInput): string {
  const params = [input.phyId, input.priority, input.ttlMs, input.ackTimeoutMs, input.maxAttempts, input.deliverAt ?? null];
  return createHash('sha256').update(JSON.stringify(params)).update('\n').update(input.payload).digest('base64url');
}
