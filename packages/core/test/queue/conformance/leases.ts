import { waitFor } from '@outbound/test-support';
import { isOutboundError, type ClaimedCommand, type TransitionResult } from '@outbound/core';
import { cmd, useQueues, LONG_LEASE, type MakeQueue } from './harness';

function expectLeaseLost(results: TransitionResult[]): void {
  expect(results).toHaveLength(1);
  const [result] = results;
  expect(result.ok).toBe(false);
  if (!result.ok) expect(isOutboundError(result.error, 'LEASE_LOST')).toBe(true);
}

/** Guarantee 2: a claim carries a lease; expired leases come back; stale holders are refused. */
export function leaseConformance(makeQueue: MakeQueue): void {
  describe('leases', () => {
    const open = useQueues(makeQueue);

    it('returns a command whose lease expired (attempt spent) and refuses the old token', async () => {
      const queue = await open();
      const { id } = await queue.enqueue(cmd('lease-dev'));
      const [first] = await queue.claim({ max: 1, leaseMs: 50 });
      expect(first).toMatchObject({ id, attempts: 1 });
      expect(first.leaseExpiresAt).toBeGreaterThan(Date.now() - 5_000);
      await waitFor(async () => (await queue.reclaimExpired()) === 1, { what: 'the lease to expire and be reclaimed' });
      expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 1 });

      const [second] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(second).toMatchObject({ id, attempts: 2 });
      expect(second.leaseToken).not.toBe(first.leaseToken);

      expectLeaseLost(await queue.ack([{ id, leaseToken: first.leaseToken, outcome: 'ok' }]));
      expectLeaseLost(await queue.fail([{ id, leaseToken: first.leaseToken, error: 'late', retryable: true }]));
      expectLeaseLost(await queue.release([{ id, leaseToken: first.leaseToken }]));
      expect(await queue.get(id)).toMatchObject({ status: 'inflight', attempts: 2 });

      expect(await queue.ack([{ id, leaseToken: second.leaseToken, outcome: 'ok', result: Buffer.from('done') }])).toEqual([
        { id, ok: true, status: 'acked' },
      ]);
      const stored = await queue.get(id);
      expect(stored).toMatchObject({ status: 'acked', attempts: 2 });
      expect(stored?.result?.toString()).toBe('done');
    });

    it('leaves unexpired leases alone, and many reapers return each expired command once', async () => {
      const queue = await open();
      await queue.enqueueBatch([cmd('reap-a'), cmd('reap-b'), cmd('reap-c')]);
      const short = await queue.claim({ max: 2, leaseMs: 30 });
      const long = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      expect(short).toHaveLength(2);
      expect(long).toHaveLength(1);
      await waitFor(async () => (await queue.stats()).total.inflight === 3 && Date.now() > Math.max(...short.map((c) => c.leaseExpiresAt)) + 20, {
        what: 'short leases to pass',
      });
      const counts = await Promise.all(Array.from({ length: 6 }, () => queue.reclaimExpired()));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
      expect((await queue.get(long[0].id))?.status).toBe('inflight');
      const stats = await queue.stats();
      expect(stats.total).toMatchObject({ inflight: 1, pending: 2 });
    });

    it('answers COMMAND_NOT_FOUND per item for unknown ids without failing the others', async () => {
      const queue = await open();
      await queue.enqueue(cmd('mixed-ack'));
      const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
      const results = await queue.ack([
        { id: '00000000-0000-4000-8000-000000000000', leaseToken: 'x', outcome: 'ok' },
        { id: claimed.id, leaseToken: claimed.leaseToken, outcome: 'ok' },
        { id: 'not-an-id', leaseToken: 'x', outcome: 'ok' },
      ]);
      expect(results[0].ok).toBe(false);
      if (!results[0].ok) expect(results[0].error.code).toBe('COMMAND_NOT_FOUND');
      expect(results[1]).toEqual({ id: claimed.id, ok: true, status: 'acked' });
      expect(results[2].ok).toBe(false);
    });

    it('acks many commands in one call, with a device rejection recorded as rejected', async () => {
      const queue = await open();
      await queue.enqueueBatch(Array.from({ length: 20 }, (_, i) => cmd(`many-${i}`)));
      const claimed = await queue.claim({ max: 20, leaseMs: LONG_LEASE });
      expect(claimed).toHaveLength(20);
      const results = await queue.ack(claimed.map((c, i) => ({ id: c.id, leaseToken: c.leaseToken, outcome: i === 0 ? ('rejected' as const) : ('ok' as const) })));
      expect(results.map((r) => (r.ok ? r.status : 'error'))).toEqual(['rejected', ...Array(19).fill('acked')]);
      expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 0 });
    });

    it('keeps the trace context given at enqueue with the command: every claim and get answer it, absent stays absent', async () => {
      const queue = await open();
      const traceContext = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const { id: traced } = await queue.enqueue(cmd('trace-dev', { traceContext }));
      const { id: plain } = await queue.enqueue(cmd('plain-dev'));
      const claimed = await queue.claim({ max: 2, leaseMs: LONG_LEASE });
      expect(claimed.map((c) => [c.id, c.traceContext])).toEqual(expect.arrayContaining([[traced, traceContext], [plain, undefined]]));
      expect((await queue.get(traced))?.traceContext).toBe(traceContext);
      expect((await queue.get(plain))?.traceContext).toBeUndefined();

      // A retry is claimed again with the same context, so each attempt joins the one trace.
      const first = claimed.find((c) => c.id === traced)!;
      await queue.fail([{ id: traced, leaseToken: first.leaseToken, error: 'busy', retryable: true, retryDelayMs: 1 }]);
      let again: ClaimedCommand | undefined;
      await waitFor(async () => (again = (await queue.claim({ max: 1, leaseMs: LONG_LEASE }))[0]) !== undefined, { what: 'the retry to be claimable' });
      expect(again).toMatchObject({ id: traced, attempts: 2, traceContext });
    });
  });
}
