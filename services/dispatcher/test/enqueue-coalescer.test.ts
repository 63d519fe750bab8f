import { createRedisClient, OutboundError, RedisQueue, ValidatedQueue, type EnqueueInput, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { EnqueueCoalescer } from '../src/enqueue-coalescer';

const command = (phyId: string, extra: Partial<EnqueueInput> = {}): EnqueueInput => ({
  phyId, payload: Buffer.from('cmd'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 5_000, maxAttempts: 3, ...extra,
});

describe('EnqueueCoalescer (real Redis queue)', () => {
  let client: RedisClient;
  let queue: ValidatedQueue<RedisQueue>;
  /** Store calls the coalescer made, with their sizes (the queue itself is the real one). */
  let calls: number[];
  let coalescer: EnqueueCoalescer;

  beforeEach(() => {
    client = createRedisClient({ url: testRedisUrl() });
    queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('coalescer'), perDeviceCap: 3, shards: 4 }));
    calls = [];
    const counted = { enqueueBatch: (inputs: EnqueueInput[]) => (calls.push(inputs.length), queue.enqueueBatch(inputs)) };
    coalescer = new EnqueueCoalescer(counted, { concurrency: 1, maxBatch: 100 });
  });
  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  it('sends a lone request at once, and requests arriving meanwhile together in one call', async () => {
    const first = coalescer.enqueue(command('DEV-1'));
    expect(calls).toEqual([1]); // nothing waited for company
    const rest = Array.from({ length: 20 }, (_, i) => coalescer.enqueue(command(`DEV-${i + 2}`)));
    const results = await Promise.all([first, ...rest]);
    expect(calls).toEqual([1, 20]);
    expect(new Set(results.map((r) => r.id)).size).toBe(21);
    for (const [i, result] of results.entries()) {
      expect((await queue.get(result.id))?.phyId).toBe(`DEV-${i + 1}`);
    }
  });

  it('answers every request its own results in order: caps and idempotency as if sent alone', async () => {
    const blocker = coalescer.enqueueBatch([command('DEV-X')]);
    const a = coalescer.enqueueBatch([command('DEV-CAP'), command('DEV-CAP')]);
    const b = coalescer.enqueueBatch([command('DEV-CAP'), command('DEV-CAP'), command('DEV-IDEM', { idempotencyKey: 'k1' })]);
    const c = coalescer.enqueue(command('DEV-IDEM', { idempotencyKey: 'k1' }));
    await blocker;
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(calls).toEqual([1, 6]);
    expect(ra.map((r) => (r instanceof OutboundError ? r.code : r.status))).toEqual(['queued', 'queued']);
    // the cap (3) is reached inside the merged call, in arrival order
    expect(rb.map((r) => (r instanceof OutboundError ? r.code : r.status))).toEqual(['queued', 'QUEUE_FULL', 'queued']);
    const idem = rb[2] as { id: string };
    expect(rc).toEqual({ id: idem.id, status: 'queued', duplicate: true });
  });

  it('keeps a request whole and bounds merged calls by maxBatch', async () => {
    const small = new EnqueueCoalescer(
      { enqueueBatch: (inputs: EnqueueInput[]) => (calls.push(inputs.length), queue.enqueueBatch(inputs)) },
      { concurrency: 1, maxBatch: 5 },
    );
    const blocker = small.enqueueBatch([command('DEV-B0')]);
    const waiting = [3, 3, 8, 1].map((n, k) => small.enqueueBatch(Array.from({ length: n }, (_, i) => command(`DEV-B${k}-${i}`))));
    expect(small.queued).toBe(15);
    await Promise.all([blocker, ...waiting]);
    expect(calls).toEqual([1, 3, 3, 8, 1]); // 3+3 > 5 goes apart; the 8 goes alone, never split
  });

  it('fails every request of a call the store refused, and goes on with the next', async () => {
    const broken = new EnqueueCoalescer(
      { enqueueBatch: (inputs: EnqueueInput[]) => (calls.push(inputs.length), calls.length === 2 ? Promise.reject(new Error('store down')) : queue.enqueueBatch(inputs)) },
      { concurrency: 1, maxBatch: 100 },
    );
    const first = broken.enqueue(command('DEV-E1'));
    const doomed = [broken.enqueue(command('DEV-E2')), broken.enqueue(command('DEV-E3'))];
    await first;
    await expect(doomed[0]).rejects.toThrow('store down');
    await expect(doomed[1]).rejects.toThrow('store down');
    const after = await broken.enqueue(command('DEV-E4'));
    expect((await queue.get(after.id))?.status).toBe('queued');
    expect(await queue.countDevice('DEV-E2')).toBe(0);
  });
});
