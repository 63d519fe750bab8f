import { createRedisClient, RedisQueue, ValidatedQueue, type RedisClient, type StoredCommand } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { CompletionWaiter } from '../src/completion-waiter';

const input = (phyId: string) => ({ phyId, payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 1_000, maxAttempts: 3 });

describe('CompletionWaiter (real Redis queue)', () => {
  let client: RedisClient;
  let queue: ValidatedQueue<RedisQueue>;
  let waiter: CompletionWaiter;
  let reads: number;
  const read = (id: string) => () => {
    reads++;
    return queue.get(id);
  };

  beforeEach(() => {
    client = createRedisClient({ url: testRedisUrl() });
    queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('waiter'), shards: 2 }));
    waiter = new CompletionWaiter();
    reads = 0;
  });

  afterEach(async () => {
    waiter.close();
    await queue.close();
    await client.quit();
  });

  async function acked(phyId: string): Promise<string> {
    const { id } = await queue.enqueue(input(phyId));
    const [c] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.ack([{ id, leaseToken: c!.leaseToken, outcome: 'ok' }]);
    return id;
  }

  it('answers a command that is already terminal after one read', async () => {
    const id = await acked('CW-DONE');
    expect(await waiter.waitForTerminal(id, 10_000, read(id))).toMatchObject({ id, status: 'acked' });
    expect(reads).toBe(1);
  });

  it('answers null for a command the store does not have', async () => {
    expect(await waiter.waitForTerminal('00000000-0000-4000-8000-000000000000', 10_000, read('00000000-0000-4000-8000-000000000000'))).toBeNull();
  });

  it('answers the last state read when the wait runs out', async () => {
    const { id } = await queue.enqueue(input('CW-SLOW'));
    const answer = await waiter.waitForTerminal(id, 100, read(id));
    expect(answer).toMatchObject({ id, status: 'queued' });
    expect(reads).toBeGreaterThan(1);
  });

  it('sees an outcome another dispatcher recorded by reading the store again', async () => {
    const { id } = await queue.enqueue(input('CW-ELSEWHERE'));
    const waiting = waiter.waitForTerminal(id, 30_000, read(id));
    await waitFor(() => reads >= 2, { what: 'a second read' });
    const [c] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.ack([{ id, leaseToken: c!.leaseToken, outcome: 'rejected' }]);
    expect(await waiting).toMatchObject({ id, status: 'rejected' });
  });

  it('answers an outcome this process recorded after its notify, reading the store at most once more', async () => {
    const { id } = await queue.enqueue(input('CW-NOTIFY'));
    const waiting = waiter.waitForTerminal(id, 30_000, read(id));
    // Let the backoff grow towards its 250 ms ceiling, then record and notify.
    await waitFor(() => reads >= 6, { what: 'the backoff to grow' });
    const [c] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.ack([{ id, leaseToken: c!.leaseToken, outcome: 'ok' }]);
    const before = reads;
    waiter.notify(id);
    const answer: StoredCommand | null = await waiting;
    expect(answer).toMatchObject({ id, status: 'acked' });
    // One read for the notify (a poll already under way may have seen the outcome first).
    expect(reads - before).toBeLessThanOrEqual(1);
  });

  it('wakes every wait on the command with one notify, at once, and none after', async () => {
    const { id } = await queue.enqueue(input('CW-TWO'));
    const [c] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const queued = await queue.get(id);
    await queue.ack([{ id, leaseToken: c!.leaseToken, outcome: 'ok' }]);
    // The waits see the store as it was before the ack until `recorded`: only a wake makes them read the outcome.
    let recorded = false;
    const stale = () => {
      reads++;
      return recorded ? queue.get(id) : Promise.resolve(queued);
    };
    const first = waiter.waitForTerminal(id, 30_000, stale);
    await waitFor(() => reads >= 3, { what: 'the first wait to back off' });
    const second = waiter.waitForTerminal(id, 30_000, stale);
    await waitFor(() => reads >= 10, { what: 'both waits to back off' });
    recorded = true;
    const before = reads;
    waiter.notify(id);
    await Promise.resolve();
    await Promise.resolve();
    // Both woke and read before any timer could run.
    expect(reads - before).toBe(2);
    expect(await Promise.all([first, second])).toMatchObject([{ id, status: 'acked' }, { id, status: 'acked' }]);
    // Nothing waits on it any more: a second notify wakes nothing.
    waiter.notify(id);
    await Promise.resolve();
    expect(reads - before).toBe(2);
  });

  it('ends the wait when the caller hangs up (abort) or the service closes, with the last state', async () => {
    const { id } = await queue.enqueue(input('CW-ABORT'));
    const hangUp = new AbortController();
    const aborted = waiter.waitForTerminal(id, 30_000, read(id), hangUp.signal);
    await waitFor(() => reads >= 1, { what: 'the first read' });
    hangUp.abort();
    expect(await aborted).toMatchObject({ id, status: 'queued' });
    const closed = waiter.waitForTerminal(id, 30_000, read(id));
    await waitFor(() => reads >= 3, { what: 'a read of the second wait' });
    waiter.close();
    expect(await closed).toMatchObject({ id, status: 'queued' });
  });
});
