import Redis, { type Command } from 'ioredis';
import { RedisQueue, ValidatedQueue } from '@outbound/core';
import { startRedisServer, uniquePrefix, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

/** Calls per command name since the last CONFIG RESETSTAT (INFO commandstats). */
async function commandCalls(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** The names of the commands a queue's client sends from here on, in order. */
function commandsSent(redis: Redis): string[] {
  const sent: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command: Command, ...rest: unknown[]) => {
    sent.push(command.name);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  };
  return sent;
}

/**
 * An idle dispatcher woken for one shard claims from that shard: it does not read every
 * shard's ready set and due times again while its last read of them (which found nothing)
 * still stands. Counted by the test's own redis-server (INFO commandstats), which it resets.
 */
describe('idle claim after a wake-up for one shard', () => {
  let redis: RedisServerHandle;
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueue>> = [];
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
  // A read of every shard stands for a minute here, so the count does not depend on how
  // fast this host answers (the default is 100 ms).
  const open = (prefix: string): ValidatedQueue<RedisQueue> => {
    const queue = new ValidatedQueue(new RedisQueue(client(), { prefix, shards: 16, scanTtlMs: 60_000 }));
    queues.push(queue);
    return queue;
  };

  it('claims what the wake-up named without reading all 16 shards, and waits without reading them either', async () => {
    const prefix = uniquePrefix('idle-claim');
    const claimer = open(prefix);
    const producer = open(prefix); // another process: its enqueue reaches the claimer only as a wake message
    const admin = client();
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]); // reads every shard: nothing anywhere
    const woken = claimer.waitForWork(60_000);
    const { id } = await producer.enqueue(cmd('idle-one'));
    await woken;
    await admin.config('RESETSTAT');
    const claimed = await claimer.claim({ max: 8, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id)).toEqual([id]);
    await claimer.waitForWork(1); // nothing else is ready: waits its 1 ms
    const calls = await commandCalls(admin);
    // A read of every shard is 16 ZCARD (no script calls ZCARD).
    expect(calls.get('zcard') ?? 0).toBe(0);
  });

  it('answers what its first round took without reading every shard again, and the wait after it reads them first', async () => {
    const prefix = uniquePrefix('idle-claim-first-round');
    const redis = client();
    const claimer = new ValidatedQueue(new RedisQueue(redis, { prefix, shards: 16, scanTtlMs: 60_000 }));
    queues.push(claimer);
    const admin = client();
    await claimer.waitForWork(1); // a claimer that waits between claims: reads every shard, nothing anywhere
    const { id } = await claimer.enqueue(cmd('first-round'));
    await claimer.waitForWork(60_000); // ends on the enqueue's wake message, which it uses up
    // Due in an hour: publishes nothing, and the claimer's last read of the shards no longer stands.
    await claimer.enqueue({ ...cmd('first-round-later'), deliverAt: Date.now() + 3_600_000 });
    const sent = commandsSent(redis);
    const claimed = await claimer.claim({ max: 8, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id)).toEqual([id]);
    // A read of every shard before the plan (its last one no longer stood), then scripts: none after them.
    expect(sent.indexOf('zcard')).toBeGreaterThanOrEqual(0);
    expect(sent.lastIndexOf('zcard')).toBeLessThan(sent.lastIndexOf('evalsha'));
    await admin.config('RESETSTAT');
    await claimer.waitForWork(1); // nothing else is ready: waits its 1 ms, after reading every shard
    expect((await commandCalls(admin)).get('zcard')).toBe(16);
  });

  it('still reads every shard when a due time it saw has passed, so scheduled work is claimed', async () => {
    const prefix = uniquePrefix('idle-claim-due');
    const claimer = open(prefix);
    const { id } = await claimer.enqueue({ ...cmd('idle-due'), deliverAt: Date.now() + 300 });
    expect(await claimer.claim({ max: 8, leaseMs: 60_000 })).toEqual([]); // not due yet: the read saw when it is
    await claimer.waitForWork(60_000); // ends at that due time
    const claimed = await claimer.claim({ max: 8, leaseMs: 60_000 });
    expect(claimed.map((c) => c.id)).toEqual([id]);
  });
});
