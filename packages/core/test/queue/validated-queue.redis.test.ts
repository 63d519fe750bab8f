import Redis from 'ioredis';
import { enqueueFingerprint, RedisQueueV3, ValidatedQueue, type StoreEnqueueItem } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance/harness';

/**
 * The queue layer in front of a real store: what it hands the store (the fingerprint only with an
 * idempotency key) and which inputs it checks (all, except those the API has just parsed).
 */
describe('ValidatedQueue (real Redis store)', () => {
  const client = new Redis(testRedisUrl());
  const store = new RedisQueueV3(client, { prefix: uniquePrefix('validated'), shards: 2 });
  // What reached the store, call by call (the calls themselves go through to Redis).
  const sent: StoreEnqueueItem[][] = [];
  const recording = new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'enqueueBatch') return Reflect.get(target, property, receiver) as unknown;
      return (items: StoreEnqueueItem[]) => {
        sent.push(items);
        return target.enqueueBatch(items);
      };
    },
  });
  const queue = new ValidatedQueue(recording);
  afterAll(async () => {
    await store.close();
    await client.quit();
  });
  beforeEach(() => {
    sent.length = 0;
  });

  it('computes a fingerprint only for a command with an idempotency key, and still finds a conflicting repeat', async () => {
    const keyless = cmd('VQ-1');
    const keyed = cmd('VQ-1', { idempotencyKey: 'order-1' });
    await queue.enqueueBatch([keyless, keyed]);
    expect(sent[0]!.map((item) => item.fingerprint)).toEqual(['', enqueueFingerprint(keyed)]);
    await expect(queue.enqueue(cmd('VQ-1', { idempotencyKey: 'order-1' }))).resolves.toMatchObject({ duplicate: true });
    await expect(queue.enqueue(cmd('VQ-1', { idempotencyKey: 'order-1', payload: Buffer.from('other') }))).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
  });

  it('checks every input unless the caller says they were checked (parseEnqueueBody\'s answers)', async () => {
    // A trace context longer than the queue takes: only our own code sets one, and within bounds.
    const overlong = cmd('VQ-2', { traceContext: 'x'.repeat(300) });
    const [refused] = await queue.enqueueBatch([overlong]);
    expect(refused).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('traceContext') });
    expect(sent).toHaveLength(0);
    const [stored] = await queue.enqueueBatch([overlong], { checked: true });
    expect(stored).toMatchObject({ status: 'queued', duplicate: false });
    expect(sent).toHaveLength(1);
  });
});
