import Redis from 'ioredis';
import { RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

/** Calls per command name since the last CONFIG RESETSTAT (INFO commandstats). */
async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Scripts run (function calls or EVALSHA, whichever this Redis takes). */
const scripts = (calls: Map<string, number>) => (calls.get('fcall') ?? 0) + (calls.get('evalsha') ?? 0);

/**
 * The v3 claim of an idle dispatcher on 16 shards is driven by wake messages: it asks only the
 * shards a message named, a due time marks, or that have not answered for a second, and reads
 * every shard (16 ZCARD) only when what it knows is that old. What nobody publishes (a lost
 * message, another dispatcher's scheduled command) is still claimed, within about a second.
 * Counted by the test's own redis-server (INFO commandstats), which it resets.
 */
describe('v3 layout: idle claim driven by wake messages', () => {
  let redis: RedisServerHandle;
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueueV3>> = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  afterAll(() => redis.stop());

  const client = (): Redis => {
    const c = new Redis(redis.url);
    clients.push(c);
    return c;
  };
  const open = (prefix: string, c: Redis = client()): ValidatedQueue<RedisQueueV3> => {
    const queue = new ValidatedQueue(new RedisQueueV3(c, { prefix, shards: 16 }));
    queues.push(queue);
    return queue;
  };
  /** A client whose wake subscriber never hears a message: every wake-up is lost. */
  const deaf = (): Redis => {
    const c = client();
    const duplicate = c.duplicate.bind(c);
    c.duplicate = (...args: Parameters<Redis['duplicate']>) => {
      const subscriber = duplicate(...args);
      const on = subscriber.on.bind(subscriber);
      subscriber.on = ((event: string, listener: (...a: unknown[]) => void) => (event === 'message' ? subscriber : on(event, listener))) as Redis['on'];
      return subscriber;
    };
    return c;
  };

  it('claims what a wake-up named from that shard, and waits again without reading every shard', async () => {
    const prefix = uniquePrefix('v3-idle-claim');
    const claimer = open(prefix);
    const producer = open(prefix); // another process: its enqueue reaches the claimer only as a wake message
    const admin = client();
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]); // asks every shard once: nothing anywhere
    await claimer.waitForWork(1);
    const woken = claimer.waitForWork(60_000);
    const { id } = await producer.enqueue(cmd('idle-one'));
    await woken;
    await admin.config('RESETSTAT');
    const claimed = await claimer.claim({ max: 8, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id)).toEqual([id]);
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]); // every shard answered lately: nothing asked
    await claimer.waitForWork(1);
    const calls = await commandCalls(admin);
    expect(calls.get('zcard') ?? 0).toBe(0); // a read of every shard is 16 ZCARD (no script calls ZCARD)
    expect(scripts(calls)).toBeLessThanOrEqual(2); // the named shard: promote and claim
  });

  it('its own enqueue costs the claim one script, and nothing more while idle', async () => {
    const prefix = uniquePrefix('v3-idle-own');
    const queue = open(prefix);
    const admin = client();
    expect(await queue.claim({ max: 8, leaseMs: 60_000 })).toEqual([]);
    await queue.waitForWork(1);
    const { id } = await queue.enqueue(cmd('own-one'));
    await queue.waitForWork(60_000); // its wake message, used up
    await admin.config('RESETSTAT');
    const [claimed] = await queue.claim({ max: 8, leaseMs: 60_000 });
    expect(claimed?.id).toBe(id);
    for (let i = 0; i < 5; i += 1) {
      expect(await queue.claim({ max: 8, leaseMs: 60_000 })).toEqual([]);
      await queue.waitForWork(1);
    }
    const calls = await commandCalls(admin);
    expect(scripts(calls)).toBe(1);
    expect(calls.get('zcard') ?? 0).toBe(0);
  });

  it('claims a command whose wake message was lost, once what it knew of the shards is a second old', async () => {
    const prefix = uniquePrefix('v3-idle-lost');
    const claimer = open(prefix, deaf());
    const producer = open(prefix);
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]);
    await claimer.waitForWork(1); // reads every shard: nothing anywhere, nothing due
    const { id } = await producer.enqueue(cmd('lost-wake'));
    // The dispatch loop: wait (1 s at most, as DISPATCHER_IDLE_WAIT_MS), claim.
    const claimed = await waitFor(async () => {
      await claimer.waitForWork(1_000);
      return (await claimer.claim({ max: 8, leaseMs: 60_000 }))[0] ?? null;
    }, { timeoutMs: 10_000, what: 'the command whose wake-up was lost to be claimed' });
    expect(claimed.id).toBe(id);
  });

  it('claims another dispatcher\'s scheduled command (which publishes nothing) once due, and its own retry once its wait ends', async () => {
    const prefix = uniquePrefix('v3-idle-due');
    const claimer = open(prefix);
    const producer = open(prefix);
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]);
    await claimer.waitForWork(1);
    const { id } = await producer.enqueue({ ...cmd('due-elsewhere'), deliverAt: Date.now() + 300 });
    const loop = () =>
      waitFor(async () => {
        await claimer.waitForWork(1_000);
        return (await claimer.claim({ max: 8, leaseMs: 60_000 }))[0] ?? null;
      }, { timeoutMs: 10_000, what: 'the command to be claimed once due' });
    const first = await loop();
    expect(first.id).toBe(id);
    const [failed] = await claimer.fail([{ id, leaseToken: first.leaseToken, error: 'busy', retryable: true, retryDelayMs: 300 }]);
    expect(failed).toMatchObject({ ok: true, status: 'queued' });
    const again = await loop();
    expect(again).toMatchObject({ id, attempts: 2 });
  });
});
