import { isOutboundError, OutboundError } from '@outbound/core';
import type { EnqueueInput } from '@outbound/core';
import { cmd, useQueues, type MakeQueue } from './harness';

/** Idempotent enqueue, per-device and global caps (QUEUE_FULL changes nothing), bad input, cancel. */
export function idempotencyCapsConformance(makeQueue: MakeQueue): void {
  describe('idempotency, caps and cancel', () => {
    const open = useQueues(makeQueue);

    it('answers the first id for a repeated idempotency key, once and in a batch', async () => {
      const queue = await open();
      const first = await queue.enqueue(cmd('idem', { idempotencyKey: 'order-42' }));
      expect(first.duplicate).toBe(false);
      const again = await queue.enqueue(cmd('idem', { idempotencyKey: 'order-42' }));
      expect(again).toEqual({ id: first.id, status: 'queued', duplicate: true });
      const batch = await queue.enqueueBatch([cmd('idem', { idempotencyKey: 'order-42' }), cmd('idem', { idempotencyKey: 'order-43' })]);
      expect(batch[0]).toEqual({ id: first.id, status: 'queued', duplicate: true });
      expect(batch[1]).toMatchObject({ duplicate: false });
      expect(await queue.countDevice('idem')).toBe(2);
      expect((await queue.get(first.id))?.payload.toString()).toBe('payload for idem');
    });

    it('keeps keys of different devices apart even where phyId and key share a colon', async () => {
      const queue = await open();
      const a = await queue.enqueue(cmd('IDC0:Z', { idempotencyKey: 'order-1' }));
      const b = await queue.enqueue(cmd('IDC0', { idempotencyKey: 'Z:order-1' }));
      expect(b.duplicate).toBe(false);
      expect(b.id).not.toBe(a.id);
      expect(await queue.countDevice('IDC0')).toBe(1);
      expect((await queue.listDevice('IDC0')).map((c) => c.id)).toEqual([b.id]);
      // The same key on the other device is its own key too.
      expect(await queue.enqueue(cmd('IDC0', { idempotencyKey: 'order-1' }))).toMatchObject({ duplicate: false });
    });

    it('answers IDEMPOTENCY_CONFLICT for a repeated key with another payload or parameters, and stores nothing', async () => {
      const queue = await open();
      const first = await queue.enqueue(cmd('idem-conflict', { idempotencyKey: 'k' }));
      const changes: Array<Partial<EnqueueInput>> = [
        { payload: Buffer.from('other') },
        { priority: 9 },
        { ttlMs: 60_000 },
        { ackTimeoutMs: 5_000 },
        { maxAttempts: 2 },
        { deliverAt: Date.now() + 60_000 },
      ];
      for (const change of changes) {
        const error = await queue.enqueue(cmd('idem-conflict', { idempotencyKey: 'k', ...change })).catch((e: unknown) => e);
        expect(isOutboundError(error, 'IDEMPOTENCY_CONFLICT')).toBe(true);
        expect((error as OutboundError).status).toBe(409);
        expect((error as OutboundError).toProblem()).toMatchObject({ id: first.id });
      }
      // In one batch: the first item stores, the second (same key, other payload) conflicts.
      const batch = await queue.enqueueBatch([
        cmd('idem-conflict', { idempotencyKey: 'k2' }),
        cmd('idem-conflict', { idempotencyKey: 'k2', payload: Buffer.from('changed') }),
      ]);
      expect(batch[0]).toMatchObject({ duplicate: false });
      expect(isOutboundError(batch[1], 'IDEMPOTENCY_CONFLICT')).toBe(true);
      expect(await queue.countDevice('idem-conflict')).toBe(2);
      expect(await queue.enqueue(cmd('idem-conflict', { idempotencyKey: 'k' }))).toEqual({ id: first.id, status: 'queued', duplicate: true });
    });

    it('answers QUEUE_FULL at the per-device cap and changes nothing', async () => {
      const queue = await open({ perDeviceCap: 3 });
      await queue.enqueueBatch([cmd('capped'), cmd('capped'), cmd('capped')]);
      const before = await queue.stats();
      await expect(queue.enqueue(cmd('capped'))).rejects.toMatchObject({ code: 'QUEUE_FULL', status: 429 });
      const batch = await queue.enqueueBatch([cmd('capped'), cmd('uncapped')]);
      expect(batch[0]).toBeInstanceOf(OutboundError);
      expect(isOutboundError(batch[0], 'QUEUE_FULL')).toBe(true);
      expect(batch[1]).toMatchObject({ duplicate: false });
      expect(await queue.countDevice('capped')).toBe(3);
      expect((await queue.listDevice('capped')).length).toBe(3);
      expect((await queue.stats()).total.pending).toBe(before.total.pending + 1);
    });

    it('answers QUEUE_FULL at the global cap and changes nothing', async () => {
      const queue = await open({ globalCap: 3, shards: 1 });
      await queue.enqueueBatch([cmd('g1'), cmd('g2'), cmd('g3')]);
      await expect(queue.enqueue(cmd('g4'))).rejects.toMatchObject({ code: 'QUEUE_FULL' });
      expect(await queue.countDevice('g4')).toBe(0);
      expect((await queue.stats()).total.pending).toBe(3);
      // Room again once a command finishes.
      const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
      await queue.ack([{ id: claimed.id, leaseToken: claimed.leaseToken, outcome: 'ok' }]);
      await expect(queue.enqueue(cmd('g4'))).resolves.toMatchObject({ duplicate: false });
    });

    it('refuses bad input with VALIDATION_FAILED naming the field, item by item', async () => {
      const queue = await open();
      const batch = await queue.enqueueBatch([cmd('bad id with spaces'), cmd('fine'), cmd('prio', { priority: 12 })]);
      expect(isOutboundError(batch[0], 'VALIDATION_FAILED')).toBe(true);
      expect((batch[0] as OutboundError).message).toContain('phyId');
      expect(batch[1]).toMatchObject({ duplicate: false });
      expect((batch[2] as OutboundError).message).toContain('priority');
      expect((await queue.stats()).total.pending).toBe(1);
    });

    it('cancels queued commands only', async () => {
      const queue = await open();
      const a = await queue.enqueue(cmd('cancel-dev'));
      const b = await queue.enqueue(cmd('cancel-dev'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
      expect(claimed.id).toBe(a.id);
      await expect(queue.cancel(a.id)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(await queue.cancel(b.id)).toMatchObject({ id: b.id, status: 'cancelled' });
      await expect(queue.cancel('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'COMMAND_NOT_FOUND' });
      expect(await queue.countDevice('cancel-dev')).toBe(1);
      await queue.ack([{ id: a.id, leaseToken: claimed.leaseToken, outcome: 'ok' }]);
      expect(await queue.claim({ max: 1, leaseMs: 60_000 })).toEqual([]);
      expect(await queue.get('00000000-0000-4000-8000-000000000000')).toBeNull();
    });
  });
}
