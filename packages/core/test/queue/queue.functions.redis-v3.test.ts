import Redis from 'ioredis';
import { RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { fillRedisMemory, startRedisServer, uniquePrefix, type RedisServerHandle } from '@outbound/test-support';
import { functionLibraryV3, LIBRARY_V3, SCRIPT_VERSION_V3 } from '../../src/queue/redis-v3/scripts-v3';
import { cmd } from './conformance';

/**
 * The v3 layout as a Redis function library (FUNCTION LOAD, FCALL) and its fallback to the
 * scripts (EVALSHA): which one Redis ran is read from its own command counters, on a private
 * redis-server per test.
 */
describe('RedisQueueV3 function library', () => {
  let redis: RedisServerHandle;
  let admin: Redis;
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueueV3>> = [];

  beforeEach(async () => {
    redis = await startRedisServer(['--maxmemory', '16mb', '--maxmemory-policy', 'noeviction']);
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
    await admin.quit();
    await redis.stop();
  });

  function queueOn(url = redis.url, options: { functions?: boolean; prefix?: string } = {}): ValidatedQueue<RedisQueueV3> {
    const client = new Redis(url);
    clients.push(client);
    const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix: uniquePrefix('fn'), shards: 2, ...options }));
    queues.push(queue);
    return queue;
  }

  /** calls of each command since the last reset (commandstats). */
  async function calls(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [, name, n] of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[name!] = Number(n);
    return out;
  }

  /** Enqueues, claims and acks `n` commands; answers how many were acked. */
  async function roundTrip(queue: ValidatedQueue<RedisQueueV3>, n: number, tag: string): Promise<number> {
    const enqueued = await queue.enqueueBatch(Array.from({ length: n }, (_, i) => cmd(`${tag}-${i}`)));
    expect(enqueued.every((r) => !(r instanceof Error))).toBe(true);
    const claimed = await queue.claim({ max: n, leaseMs: 60_000 });
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    return acked.filter((a) => a.ok).length;
  }

  /** At OOM: claims and acks the commands of `phyIds`, an enqueue answers STORE_FULL; answers the calls Redis ran for it. */
  async function drainsAtOom(queue: ValidatedQueue<RedisQueueV3>, phyIds: string[]): Promise<Record<string, number>> {
    await admin.config('RESETSTAT');
    const claimed = await queue.claim({ max: 10, leaseMs: 30_000 });
    expect(claimed.map((c) => c.phyId).sort()).toEqual(phyIds);
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.every((a) => a.ok)).toBe(true);
    await expect(queue.enqueue(cmd(`${phyIds[0]}-more`))).rejects.toMatchObject({ code: 'STORE_FULL' });
    return calls();
  }

  async function libraries(): Promise<Array<{ name: string; code: string; functions: string[] }>> {
    const listed = (await admin.call('FUNCTION', 'LIST', 'WITHCODE')) as unknown[][];
    return listed.map((entry) => {
      const map = new Map<string, unknown>();
      for (let i = 0; i < entry.length; i += 2) map.set(String(entry[i]), entry[i + 1]);
      const functions = (map.get('functions') as unknown[][]).map((f) => String(f[f.indexOf('name') + 1]));
      return { name: String(map.get('library_name')), code: String(map.get('library_code')), functions };
    });
  }

  it('loads the library once and runs every call as FCALL', async () => {
    const queue = queueOn();
    await admin.config('RESETSTAT');
    expect(await roundTrip(queue, 20, 'fcall')).toBe(20);
    const stats = await calls();
    expect(stats.fcall).toBeGreaterThanOrEqual(3);
    expect(stats.evalsha ?? 0).toBe(0);
    expect(stats.eval ?? 0).toBe(0);
    const [library] = await libraries();
    expect(library).toMatchObject({ name: LIBRARY_V3, code: functionLibraryV3() });
    expect(library!.functions).toContain(`outbound_l3v${SCRIPT_VERSION_V3}_claim`);
    // a second store on the same Redis finds it loaded
    await admin.config('RESETSTAT');
    expect(await roundTrip(queueOn(), 5, 'second')).toBe(5);
    expect((await calls())['function|load'] ?? 0).toBe(0);
  });

  it('runs the scripts when told to, and when FUNCTION is denied to its user', async () => {
    await admin.config('RESETSTAT');
    expect(await roundTrip(queueOn(redis.url, { functions: false }), 10, 'off')).toBe(10);
    await admin.call('ACL', 'SETUSER', 'nofn', 'on', 'nopass', '~*', '&*', '+@all', '-function');
    expect(await roundTrip(queueOn(`redis://nofn@127.0.0.1:${redis.port}`), 10, 'denied')).toBe(10);
    const stats = await calls();
    expect(stats.evalsha).toBeGreaterThanOrEqual(6);
    expect(stats.fcall ?? 0).toBe(0);
    expect(await libraries()).toEqual([]);
  });

  it('drains with the scripts when Redis is out of memory and refuses FUNCTION LOAD', async () => {
    const filler = new Redis(redis.url);
    clients.push(filler);
    const prefix = uniquePrefix('full');
    // queued while there was room, by a store on the scripts
    const writer = queueOn(redis.url, { functions: false, prefix });
    expect((await writer.enqueueBatch([cmd('full-1'), cmd('full-2')])).every((r) => !(r instanceof Error))).toBe(true);
    await fillRedisMemory(filler, 1.02);
    await expect(admin.call('FUNCTION', 'LOAD', functionLibraryV3())).rejects.toThrow(/^OOM/);
    // a dispatcher started against the full Redis
    const drainer = queueOn(redis.url, { prefix });
    const stats = await drainsAtOom(drainer, ['full-1', 'full-2']);
    expect(stats.evalsha).toBeGreaterThanOrEqual(2);
    expect(stats.fcall ?? 0).toBe(0);
    expect(await libraries()).toEqual([]);
    await filler.del('test-filler');
  });

  it('keeps draining through the loaded library when Redis is out of memory, and refuses enqueues', async () => {
    const filler = new Redis(redis.url);
    clients.push(filler);
    const queue = queueOn();
    expect((await queue.enqueueBatch([cmd('oom-1'), cmd('oom-2')])).every((r) => !(r instanceof Error))).toBe(true);
    await fillRedisMemory(filler, 1.02);
    const stats = await drainsAtOom(queue, ['oom-1', 'oom-2']);
    expect(stats.fcall).toBeGreaterThanOrEqual(2);
    expect(stats.evalsha ?? 0).toBe(0);
    await filler.del('test-filler');
  });

  it('replaces an older release\'s library and keeps a newer one\'s', async () => {
    const older = `#!lua name=${LIBRARY_V3}\nredis.register_function('outbound_l3v1_claim', function() return 1 end)\n`;
    await admin.call('FUNCTION', 'LOAD', older);
    expect(await roundTrip(queueOn(), 5, 'upgrade')).toBe(5);
    expect((await libraries())[0]!.code).toBe(functionLibraryV3());

    const newer = `#!lua name=${LIBRARY_V3}\nredis.register_function('outbound_l3v${SCRIPT_VERSION_V3 + 1}_claim', function() return 1 end)\n`;
    await admin.call('FUNCTION', 'LOAD', 'REPLACE', newer);
    await admin.config('RESETSTAT');
    // the store above was on the library: its next call finds its function gone, looks again, and runs the scripts
    expect(await roundTrip(queues[0]!, 5, 'rolled')).toBe(5);
    expect(await roundTrip(queueOn(), 5, 'older')).toBe(5);
    expect((await libraries())[0]!.code).toBe(newer);
    const stats = await calls();
    expect(stats.evalsha).toBeGreaterThanOrEqual(6);
    expect(stats['function|load'] ?? 0).toBe(0);
  });

  it('loads the library again when it was deleted under a running store', async () => {
    const queue = queueOn();
    expect(await roundTrip(queue, 5, 'before')).toBe(5);
    await admin.call('FUNCTION', 'DELETE', LIBRARY_V3);
    await admin.config('RESETSTAT');
    expect(await roundTrip(queue, 5, 'after')).toBe(5);
    const stats = await calls();
    expect(stats['function|load']).toBe(1);
    expect(stats.evalsha ?? 0).toBe(0);
    expect((await libraries())[0]!.code).toBe(functionLibraryV3());
  });
});
