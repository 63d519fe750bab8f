import { createRedisClient, RedisKeys, RedisKeysV3, RedisQueue, RedisQueueV3, ValidatedQueue, type ClaimedCommand, type QueueOptions, type RedisClient } from '@outbound/core';
import { startRedisCluster, uniquePrefix, waitFor, type RedisClusterHandle } from '@outbound/test-support';
import type { Cluster } from 'ioredis';
import { functionLibraryV3, LIBRARY_V3 } from '../../src/queue/redis-v3/scripts-v3';
import { cmd, queueConformance } from './conformance';

/**
 * Redis Cluster (3 masters): the queue's scripts each touch one hash slot, so a
 * representative part of the conformance suite runs without a CROSSSLOT error (one would
 * surface as an INTERNAL error and fail the test), with shards spread over the masters.
 */
let cluster: RedisClusterHandle;
const clients: RedisClient[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await cluster?.stop();
});

function clusterClient(): RedisClient {
  const client = createRedisClient({ url: `redis://${cluster.nodes[0]}`, mode: 'cluster', clusterNodes: cluster.nodes });
  clients.push(client);
  return client;
}

describe('redis cluster layout', () => {
  it('spreads the 16 shards over all 3 masters and serves one queue across them', async () => {
    const client = clusterClient() as Cluster;
    const keys = new RedisKeys(uniquePrefix('layout'), 16);
    const owners = new Set<string>();
    for (let shard = 0; shard < 16; shard += 1) {
      const slot = Number(await client.cluster('KEYSLOT', keys.shard(shard).ready));
      // Every key of a shard shares its slot.
      for (const key of keys.shardKeyList(shard)) expect(Number(await client.cluster('KEYSLOT', key))).toBe(slot);
      const slots = await client.cluster('SLOTS');
      const owner = slots.find(([from, to]) => slot >= from && slot <= to);
      owners.add(String(owner?.[2]?.[1]));
    }
    expect(owners.size).toBe(3);

    const queue = new ValidatedQueue(new RedisQueue(client, { prefix: keys.prefix }));
    const inputs = Array.from({ length: 200 }, (_, i) => cmd(`spread-${i}`));
    const results = await queue.enqueueBatch(inputs);
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
    // The oldest-ready read goes to every shard's own master (no cross-slot pipeline).
    await waitFor(async () => (await queue.oldestReadyAgeSeconds())! > 0.05, { what: 'the oldest ready command to age' });
    const claimed = await queue.claim({ max: 200, leaseMs: 60_000 });
    expect(claimed).toHaveLength(200);
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);
    const stats = await queue.stats();
    expect(stats.total.inflight).toBe(200);
    expect(stats.shards.filter((s) => s.inflight > 0).length).toBeGreaterThan(8);
    await queue.close();
  });

  it('reads the oldest-ready age of a v3 queue from every shard\'s own master', async () => {
    const queue = new ValidatedQueue(new RedisQueueV3(clusterClient(), { prefix: uniquePrefix('age3') }));
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);
    const results = await queue.enqueueBatch(Array.from({ length: 200 }, (_, i) => cmd(`age3-${i}`, { priority: i % 10 })));
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
    await waitFor(async () => (await queue.oldestReadyAgeSeconds())! > 0.05, { what: 'the oldest ready command to age' });
    const claimed = await queue.claim({ max: 200, leaseMs: 60_000 });
    expect(claimed).toHaveLength(200);
    expect(await queue.oldestReadyAgeSeconds()).toBe(0);
    await queue.close();
  });

  it('loads the v3 function library on every master and runs the shards\' calls as FCALL', async () => {
    const client = clusterClient() as Cluster;
    const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix: uniquePrefix('fn3') }));
    const results = await queue.enqueueBatch(Array.from({ length: 100 }, (_, i) => cmd(`fn3-${i}`)));
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
    const masters = client.nodes('master');
    expect(masters).toHaveLength(3);
    for (const master of masters) {
      const listed = (await master.call('FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY_V3, 'WITHCODE')) as unknown[][];
      expect(listed[0]).toEqual(expect.arrayContaining(['library_name', LIBRARY_V3, 'library_code', functionLibraryV3()]));
    }
    // claims on every master, and the calls they made were FCALL
    const fcalls = async () => Promise.all(masters.map(async (m) => Number(/^cmdstat_fcall:calls=(\d+)/m.exec(await m.info('commandstats'))?.[1] ?? 0)));
    const before = await fcalls();
    expect(await queue.claim({ max: 100, leaseMs: 60_000 })).toHaveLength(100);
    const after = await fcalls();
    masters.forEach((_, i) => expect(after[i]!).toBeGreaterThan(before[i]!));
    await queue.close();
  });

  it('trims a v3 queue\'s finished records and event log to the byte budget on every master', async () => {
    // Six batches of 500 on a six-node cluster sharing the host: a loaded host can leave the liveness PING unanswered past 1 s; stalls are tested elsewhere.
    const queue = new ValidatedQueue(new RedisQueueV3(clusterClient(), { prefix: uniquePrefix('trim3'), retentionMaxBytes: 400_000, liveness: { stallMs: 10_000 } }));
    for (let from = 0; from < 3_000; from += 500) {
      const results = await queue.enqueueBatch(Array.from({ length: 500 }, (_, i) => cmd(`trim3-${from + i}`)));
      expect(results.every((r) => !(r instanceof Error))).toBe(true);
      const claimed = await queue.claim({ max: 500, leaseMs: 60_000 });
      expect(claimed).toHaveLength(500);
      await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    }
    // 3,000 records of about 170 bytes and their events (about 110 bytes) over 16 shards of 25,000 bytes each.
    const { retainedBytes, trimmed } = (await queue.trimRetained())!;
    expect(trimmed).toBeGreaterThan(1_500);
    expect(retainedBytes).toBeLessThanOrEqual(400_000);
    expect((await queue.trimRetained())!).toEqual({ retainedBytes, trimmed: 0 });
    await queue.close();
  });

  it('keeps every key of a v3 shard in its shard slot', async () => {
    const client = clusterClient() as Cluster;
    const keys = new RedisKeysV3(uniquePrefix('layout3'), 16);
    for (let shard = 0; shard < 16; shard += 1) {
      const slot = Number(await client.cluster('KEYSLOT', keys.ready(shard)));
      for (const key of [...keys.shardKeyList(shard), keys.devices(shard), keys.scheduled(shard), keys.backoff(shard), keys.offline(shard), keys.events(shard), keys.claimRequest(shard, 'token'), `${keys.shardPrefix(shard)}line:dev`, `${keys.shardPrefix(shard)}enq:token`, keys.finished(keys.newCommandId(shard))!.bucket, keys.finishedBytes(shard)]) {
        expect(Number(await client.cluster('KEYSLOT', key))).toBe(slot);
      }
    }
  });
});

describe.each([
  ['functions', true],
  ['scripts', false],
] as const)('redis cluster, v3 layout (%s): an enqueue that claims for its own process', (_how, functions) => {
  it('claims across the shards of a batch, on their masters, up to the offer, and leaves the rest to claim', async () => {
    const queue = new ValidatedQueue(new RedisQueueV3(clusterClient(), { prefix: uniquePrefix('coe3'), functions }));
    const settled: ClaimedCommand[][] = [];
    queue.setLocalClaimer({ offer: (phyIds) => ({ max: Math.min(phyIds.length, 5), leaseMs: 60_000, settle: (claimed) => settled.push(claimed) }) });
    const inputs = Array.from({ length: 40 }, (_, i) => cmd(`coe-${i}`));
    const results = await queue.enqueueBatch(inputs);
    expect(results.every((r) => !(r instanceof Error))).toBe(true);
    expect(settled).toHaveLength(1);
    expect(settled[0]).toHaveLength(5);
    queue.setLocalClaimer(null);
    const rest = await queue.claim({ max: 100, leaseMs: 60_000 });
    const all = [...settled[0]!, ...rest];
    expect(all.map((c) => c.id).sort()).toEqual(results.map((r) => (r as { id: string }).id).sort());
    const acks = await queue.ack(all.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acks.every((a) => a.ok)).toBe(true);
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 0 });
    await queue.close();
  });
});

const V3_CLUSTER_GROUPS = ['order', 'leases', 'retries', 'ttl', 'idempotencyCaps', 'stats', 'offline', 'events', 'bulk', 'history'] as const;

/** The v3 layout on the cluster: its function library loaded on every master (FCALL), or the scripts (EVALSHA). */
function clusterV3(functions: boolean) {
  return async (options: QueueOptions) => {
    const prefix = uniquePrefix('cluster3');
    const stores: RedisQueueV3[] = [];
    const make = (): ValidatedQueue => {
      const store = new RedisQueueV3(clusterClient(), { ...options, prefix, functions });
      stores.push(store);
      return new ValidatedQueue(store);
    };
    const queue = make();
    return {
      queue,
      sibling: async () => make(),
      async cleanup() {
        await Promise.all(stores.map((s) => s.close()));
      },
    };
  };
}

queueConformance('redis cluster (3 masters), v3 layout', clusterV3(true), [...V3_CLUSTER_GROUPS]);
queueConformance('redis cluster (3 masters), v3 layout, scripts', clusterV3(false), [...V3_CLUSTER_GROUPS]);

queueConformance(
  'redis cluster (3 masters)',
  async (options: QueueOptions) => {
    const prefix = uniquePrefix('cluster');
    const queues: RedisQueue[] = [];
    const make = (): ValidatedQueue => {
      const queue = new RedisQueue(clusterClient(), { ...options, prefix });
      queues.push(queue);
      return new ValidatedQueue(queue);
    };
    const queue = make();
    return {
      queue,
      sibling: async () => make(),
      async cleanup() {
        await Promise.all(queues.map((q) => q.close()));
      },
    };
  },
  ['order', 'leases', 'retries', 'ttl', 'idempotencyCaps', 'stats', 'offline', 'events', 'bulk', 'history'],
);
