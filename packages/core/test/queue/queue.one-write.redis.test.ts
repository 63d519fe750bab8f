import type { Socket } from 'node:net';
import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, ValidatedQueue, type CommandStore } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance';

/**
 * Counts the writes the client's socket hands to the kernel: Node calls `_write` for one chunk
 * and `_writev` for everything a cork gathered (one writev system call). Counting here, not the
 * process's write system calls, leaves out what the test runner writes meanwhile.
 */
function countSocketWrites(client: Redis): () => number {
  const socket = (client as unknown as { stream: Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void } }).stream;
  let writes = 0;
  const write = socket._write.bind(socket);
  socket._write = (...args: unknown[]) => {
    writes += 1;
    write(...args);
  };
  const writev = socket._writev?.bind(socket);
  if (writev) {
    socket._writev = (...args: unknown[]) => {
      writes += 1;
      writev(...args);
    };
  }
  return () => writes;
}

/**
 * A batch spread over many shards runs one script per shard; on one Redis those scripts leave
 * in one write (inOneWrite), not one write each. An ack sends its scripts before it returns, so
 * its writes are counted exactly; enqueue and claim may take a round trip or two first (a
 * memory sample, a claim plan): their bound is half a write per shard touched (one write per
 * script made 17 for the enqueue alone).
 */
describe.each(['v2', 'v3'] as const)('%s store: one write per batch across shards', (layout) => {
  let client: Redis;
  let queue: ValidatedQueue<CommandStore>;
  let shardsTouched: number;
  let writeCalls: () => number;
  const SHARDS = 16;
  const writesOf = async <T>(call: () => Promise<T>): Promise<{ value: T; writes: number }> => {
    const before = writeCalls();
    const value = await call();
    return { value, writes: writeCalls() - before };
  };

  beforeAll(async () => {
    client = new Redis(testRedisUrl());
    const options = { prefix: uniquePrefix(`one-write-${layout}`), shards: SHARDS };
    const store = layout === 'v2' ? new RedisQueue(client, options) : new RedisQueueV3(client, options);
    queue = new ValidatedQueue<CommandStore>(store);
    shardsTouched = new Set(Array.from({ length: 64 }, (_, i) => store['keys'].shardOf(`one-write-${i}`))).size;
    await queue.stats(); // connected, scripts' first EVALs behind us
    writeCalls = countSocketWrites(client);
  });

  afterAll(async () => {
    await queue.close();
    await client.quit();
  });

  it('enqueues, claims and acks 64 commands on 64 devices in a few writes each', async () => {
    expect(shardsTouched).toBeGreaterThanOrEqual(12);
    const enqueued = await writesOf(() => queue.enqueueBatch(Array.from({ length: 64 }, (_, i) => cmd(`one-write-${i}`))));
    expect(enqueued.value.every((r) => 'id' in r)).toBe(true);
    expect(enqueued.writes).toBeLessThan(shardsTouched / 2);

    const claimed = await writesOf(() => queue.claim({ max: 64, leaseMs: 60_000 }));
    expect(claimed.value).toHaveLength(64);
    expect(claimed.writes).toBeLessThan(shardsTouched / 2);

    const before = writeCalls();
    const acking = queue.ack(claimed.value.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(writeCalls() - before).toBe(1);
    expect((await acking).every((r) => r.ok)).toBe(true);
    expect((await queue.stats()).total.inflight).toBe(0);
  });
});
