import { createLogger, createRedisClient, RedisQueue, ValidatedQueue, type AckItem, type ClaimedCommand, type RedisClient } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { OutcomeRecorder } from '../src/outcome-recorder';

describe('OutcomeRecorder (real Redis queue)', () => {
  let client: RedisClient;
  let queue: ValidatedQueue<RedisQueue>;
  /** Sizes of the ack calls the recorder made (the queue itself is the real one). */
  let ackCalls: number[];
  let counted: ValidatedQueue<RedisQueue>;

  beforeEach(() => {
    client = createRedisClient({ url: testRedisUrl() });
    queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('recorder'), shards: 2 }));
    ackCalls = [];
    counted = Object.create(queue) as ValidatedQueue<RedisQueue>;
    counted.ack = (items: AckItem[]) => (ackCalls.push(items.length), queue.ack(items));
  });
  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  async function claimed(n: number): Promise<ClaimedCommand[]> {
    for (let i = 0; i < n; i += 1) {
      await queue.enqueue({ phyId: `REC-${i}`, payload: Buffer.from('x'), priority: 5, ttlMs: 60_000, ackTimeoutMs: 5_000, maxAttempts: 3 });
    }
    const out = await queue.claim({ max: n, leaseMs: 60_000 });
    expect(out).toHaveLength(n);
    return out;
  }

  const ack = (c: ClaimedCommand): AckItem => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' });

  it('records the outcomes of one event-loop turn with one call', async () => {
    const commands = await claimed(30);
    const recorder = new OutcomeRecorder(counted, createLogger({ service: 'test', level: 'silent' }), {});
    const results = await Promise.all(commands.map((c) => recorder.record('ack', ack(c))));
    expect(ackCalls).toEqual([30]);
    expect(results.every((r) => r.ok && r.status === 'acked')).toBe(true);
    for (const c of commands) expect((await queue.get(c.id))?.status).toBe('acked');
  });

  it('sends the call on the turn the outcomes were recorded, before any timer or I/O callback', async () => {
    const commands = await claimed(3);
    const recorder = new OutcomeRecorder(counted, createLogger({ service: 'test', level: 'silent' }), {});
    const answers = commands.map((c) => recorder.record('ack', ack(c)));
    expect(ackCalls).toEqual([]);
    await Promise.resolve(); // one microtask later: no setImmediate or timer has run yet
    expect(ackCalls).toEqual([3]);
    expect((await Promise.all(answers)).every((r) => r.ok)).toBe(true);
  });

  it('gathers what arrives while calls are in flight into the next call', async () => {
    const commands = await claimed(12);
    const recorder = new OutcomeRecorder(counted, createLogger({ service: 'test', level: 'silent' }), { maxSending: 1 });
    const first = recorder.record('ack', ack(commands[0]!));
    await new Promise((resolve) => setImmediate(resolve)); // the first call is now in flight
    const rest = commands.slice(1).map((c) => recorder.record('ack', ack(c)));
    await Promise.all([first, ...rest]);
    expect(ackCalls).toEqual([1, 11]);
  });

  it('drain() sends what is gathered at once and waits for every answer', async () => {
    const commands = await claimed(5);
    const recorder = new OutcomeRecorder(counted, createLogger({ service: 'test', level: 'silent' }), { flushMs: 60_000 });
    const answers = commands.map((c) => recorder.record('ack', ack(c)));
    await recorder.drain();
    expect(ackCalls).toEqual([5]);
    expect((await Promise.all(answers)).map((r) => r.ok)).toEqual([true, true, true, true, true]);
  });
  it('recordThen: a callback that throws leaves the call as it was, and the other items get their results', async () => {
    const commands = await claimed(3);
    const recorder = new OutcomeRecorder(counted, createLogger({ service: 'test', level: 'silent' }), {});
    const seen: Array<[string, boolean]> = [];
    const settled = new Promise<void>((resolve) => {
      commands.forEach((c, i) => recorder.recordThen('ack', ack(c), (result) => {
        seen.push([result.id, result.ok]);
        if (i === 0) throw new Error('the caller failed');
        if (i === commands.length - 1) resolve();
      }));
    });
    await settled;
    await recorder.drain();
    expect(seen).toEqual(commands.map((c) => [c.id, true]));
    expect(ackCalls).toEqual([3]); // taken once: no retry of a call the store had answered
    for (const c of commands) expect((await queue.get(c.id))?.status).toBe('acked');
  });
});
