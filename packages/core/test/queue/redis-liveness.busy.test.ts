import Redis from 'ioredis';
import { startRedisServer, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { RedisGate } from '../../src/queue/redis/redis-gate';

// A script that keeps Redis busy for ARGV[1] microseconds, then answers 1.
const SPIN = `local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
repeat local t = redis.call('TIME') until (t[1] * 1000000 + t[2]) - start >= tonumber(ARGV[1])
return 1`;

const STALL_MS = 300;

/** Whether the gate refuses a request up front right now (the request itself would touch nothing). */
async function refused(gate: RedisGate): Promise<boolean> {
  try {
    await gate.call('probe', () => Promise.reject(new Error('not sent on purpose')));
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'STORE_UNAVAILABLE';
  }
}

describe('Redis liveness: a busy server is not a stalled one', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  let gate: RedisGate;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    gate = new RedisGate(client, { liveness: { intervalMs: 20, stallMs: STALL_MS } });
    await client.ping();
  });
  afterAll(async () => {
    gate.stop();
    client.disconnect();
    await redis.stop();
  });

  it('keeps sending while a long pipeline is being answered, though its PING waits behind it far past the stall time', async () => {
    // 16 requests of 100 ms each: the PING that goes out behind them waits ~1.6 s (over 5x the
    // stall time), while an answer arrives every 100 ms (a third of it). Each request carries 64 KB,
    // as a large batch's scripts do: Redis answers what it has read before it reads on, so a
    // pipeline of small requests read at once would be answered all together at the end.
    const bulk = 'x'.repeat(64 * 1024);
    const calls = Array.from({ length: 16 }, () => gate.call('spin', () => client.eval(SPIN, 0, 100_000, bulk)));
    const started = Date.now();
    let refusedWhileBusy = 0;
    let checks = 0;
    const done = Promise.all(calls);
    let finished = false;
    void done.finally(() => { finished = true; });
    while (!finished) {
      if (await refused(gate)) refusedWhileBusy++;
      checks++;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(await done).toEqual(Array(16).fill(1));
    expect(Date.now() - started).toBeGreaterThan(3 * STALL_MS);
    expect(checks).toBeGreaterThan(10);
    expect(refusedWhileBusy).toBe(0);
  });

  it('still refuses up front once nothing at all has been answered for the stall time, and sends again after', async () => {
    const long = gate.call('spin', () => client.eval(SPIN, 0, 4 * STALL_MS * 1_000));
    await waitFor(async () => ((await refused(gate)) ? true : null), { timeoutMs: 4 * STALL_MS, what: 'requests refused during a silent stall' });
    expect(await long).toBe(1);
    await waitFor(async () => ((await refused(gate)) ? null : true), { timeoutMs: 5_000, what: 'requests sent again once Redis answers' });
    expect(await gate.call('get', () => client.get('nothing-here'))).toBeNull();
  });
});
