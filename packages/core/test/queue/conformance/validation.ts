import { COMMAND_LIMITS, isOutboundError, type EnqueueInput, type OutboundError } from '@outbound/core';
import { cmd, useQueues, type MakeQueue } from './harness';

const L = COMMAND_LIMITS;
const HOUR = 3_600_000;

/** Inputs the queue must refuse, each with the field its error names. */
const REFUSED: Array<[string, Partial<EnqueueInput>, string]> = [
  ['phyId with a space', { phyId: 'bad id' }, 'phyId'],
  ['empty phyId', { phyId: '' }, 'phyId'],
  ['phyId of 65 characters', { phyId: 'x'.repeat(65) }, 'phyId'],
  ['payload one byte over the limit', { payload: Buffer.alloc(L.payloadMaxBytes + 1) }, 'payload'],
  ['priority below 0', { priority: L.priorityMin - 1 }, 'priority'],
  ['priority above 9', { priority: L.priorityMax + 1 }, 'priority'],
  ['fractional priority', { priority: 4.5 }, 'priority'],
  ['ttlMs 0', { ttlMs: 0 }, 'ttlMs'],
  ['ttlMs over the maximum', { ttlMs: L.ttlMsMax + 1 }, 'ttlMs'],
  ['ackTimeoutMs under the minimum', { ackTimeoutMs: L.ackTimeoutMsMin - 1 }, 'ackTimeoutMs'],
  ['ackTimeoutMs over the maximum', { ackTimeoutMs: L.ackTimeoutMsMax + 1 }, 'ackTimeoutMs'],
  ['maxAttempts 0', { maxAttempts: 0 }, 'maxAttempts'],
  ['maxAttempts over the maximum', { maxAttempts: L.maxAttemptsMax + 1 }, 'maxAttempts'],
  ['empty idempotency key', { idempotencyKey: '' }, 'idempotencyKey'],
  ['idempotency key over the maximum', { idempotencyKey: 'k'.repeat(L.idempotencyKeyMaxLength + 1) }, 'idempotencyKey'],
  ['negative deliverAt', { deliverAt: -1 }, 'deliverAt'],
  ['deliverAt at the largest safe integer', { deliverAt: Number.MAX_SAFE_INTEGER }, 'deliverAt'],
  ['deliverAt after the command expires', { ttlMs: HOUR, deliverAt: Date.now() + 2 * HOUR }, 'deliverAt'],
];

/** Inputs at each limit, which the queue must take. */
const ACCEPTED: Array<[string, Partial<EnqueueInput>]> = [
  ['phyId of 64 characters with every allowed sign', { phyId: `${'a'.repeat(58)}Z9._:-` }],
  ['payload at the limit', { payload: Buffer.alloc(L.payloadMaxBytes) }],
  ['empty payload', { payload: Buffer.alloc(0) }],
  ['priority 0', { priority: L.priorityMin }],
  ['priority 9', { priority: L.priorityMax }],
  ['ttlMs at the maximum', { ttlMs: L.ttlMsMax }],
  ['ackTimeoutMs at the minimum', { ackTimeoutMs: L.ackTimeoutMsMin }],
  ['ackTimeoutMs at the maximum', { ackTimeoutMs: L.ackTimeoutMsMax }],
  ['maxAttempts 1', { maxAttempts: L.maxAttemptsMin }],
  ['maxAttempts at the maximum', { maxAttempts: L.maxAttemptsMax }],
  ['idempotency key at the maximum', { idempotencyKey: 'k'.repeat(L.idempotencyKeyMaxLength) }],
  ['deliverAt in the past', { deliverAt: 0 }],
  ['deliverAt just before the command expires', { ttlMs: HOUR, deliverAt: Date.now() + HOUR - 60_000 }],
];

/** One schema for every backend: each field and each limit, refused or taken the same way. */
export function validationConformance(makeQueue: MakeQueue): void {
  describe('input validation (one schema, every limit)', () => {
    const open = useQueues(makeQueue);

    it.each(REFUSED)('refuses %s with VALIDATION_FAILED naming the field, and stores nothing', async (_name, change, field) => {
      const queue = await open();
      const [refused, fine] = await queue.enqueueBatch([cmd('valid-dev', change), cmd('valid-neighbour')]);
      expect(isOutboundError(refused, 'VALIDATION_FAILED')).toBe(true);
      expect(((refused as OutboundError).details as Array<{ path: string }>).map((d) => d.path)).toEqual([field]);
      expect(fine).toMatchObject({ duplicate: false });
      expect((await queue.stats()).total).toMatchObject({ pending: 1, delayed: 0 });
      await expect(queue.enqueue(cmd('valid-dev', change))).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    });

    it.each(ACCEPTED)('takes %s', async (_name, change) => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('valid-dev', change));
      const stored = await queue.get(id);
      expect(stored).toMatchObject({ phyId: change.phyId ?? 'valid-dev', status: 'queued' });
      // Every time the queue answers for it is a real date (a view of it never fails).
      for (const at of [stored!.createdAt, stored!.expiresAt, stored!.deliverAt ?? 0]) expect(Number.isFinite(new Date(at).getTime())).toBe(true);
    });
  });
}
