import { readFileSync } from 'node:fs';
import { createRedisClient, inOneWrite } from '@outbound/core';
import { startRedisServer, type RedisServerHandle } from '@outbound/test-support';

/**
 * Write system calls the calling thread has made so far (Linux /proc/thread-self/io). The process-wide
 * count (/proc/self/io) also counts writes of Node's and the runner's other threads, which can land
 * inside the measured stretch on a busy machine.
 */
function writeCalls(): number {
  return Number(/syscw: (\d+)/.exec(readFileSync('/proc/thread-self/io', 'utf8'))![1]);
}

/** Runs `send` and answers how many write system calls it made (it writes synchronously or not at all). */
function writesOf<T>(send: () => T): { value: T; writes: number } {
  const before = writeCalls();
  const value = send();
  return { value, writes: writeCalls() - before };
}

describe('inOneWrite', () => {
  let server: RedisServerHandle;
  let client: ReturnType<typeof createRedisClient>;

  beforeAll(async () => {
    server = await startRedisServer();
    client = createRedisClient({ url: server.url });
    await client.ping();
    client.defineCommand('oneWriteIncr', { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" });
  });

  afterAll(async () => {
    await client.quit();
    await server.kill();
  });

  const incr = (key: string, by: number): Promise<number> =>
    (client as unknown as Record<string, (key: string, by: number) => Promise<number>>)['oneWriteIncr']!.call(client, key, by);

  it('sends the calls of one stretch in one write, each answered as if sent alone, in order', async () => {
    await incr('one-write:warm', 1); // the script's first EVAL on this connection
    const { value, writes } = writesOf(() => inOneWrite(client, () => Array.from({ length: 12 }, (_, i) => incr('one-write:a', i + 1))));
    expect(writes).toBe(1);
    expect(await Promise.all(value)).toEqual(Array.from({ length: 12 }, (_, i) => ((i + 1) * (i + 2)) / 2));
  });

  it('leaves calls outside a stretch in a write each', async () => {
    const { value, writes } = writesOf(() => Array.from({ length: 5 }, () => incr('one-write:b', 1)));
    expect(writes).toBe(5);
    expect(await Promise.all(value)).toEqual([1, 2, 3, 4, 5]);
  });

  it('uncorks the socket when the stretch throws, so later calls still leave', async () => {
    expect(() => inOneWrite(client, () => {
      void incr('one-write:c', 1);
      throw new Error('planned');
    })).toThrow('planned');
    await expect(incr('one-write:c', 1)).resolves.toBe(2);
  });

  it('answers a call sent while the client is not yet connected', async () => {
    const late = createRedisClient({ url: server.url });
    try {
      await expect(inOneWrite(late, () => late.incr('one-write:d'))).resolves.toBe(1);
    } finally {
      await late.quit();
    }
  });
});
