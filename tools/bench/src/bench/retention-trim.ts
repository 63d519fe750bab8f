/**
 * Redis time of the byte budget's trim (QUEUE_RETENTION_MAX_BYTES, redis-v3/lua/trim-finished-1.lua)
 * on one v3 shard, the three ways it goes, rounds interleaved on one redis-server:
 *
 *   npm run build && npm run bench:trim
 *
 *   - count: 1,353 creation minutes of finished commands, under the budget (what every
 *     dispatcher's tick costs when nothing is trimmed);
 *   - random: forty creation minutes (ids minted with past minutes); each round finishes
 *     BENCH_TRIM_BATCH (500) commands more and trims as many records: whole minutes, then
 *     random records of the oldest minute (a budget of many minutes);
 *   - stream: the same in the current minute (a budget of about a minute of traffic): the
 *     script reads the event stream from its oldest entry, a record with its entries.
 * Each trim's time is the server's own (SLOWLOG with a 0 µs threshold: the script's duration,
 * which a loaded machine stretches but does not add to the way it does wall time). Prints the
 * median µs per run and per record trimmed, and the load average.
 *
 * Env: BENCH_RUNS (rounds per case, 20), BENCH_TRIM_BATCH (500).
 */
import { loadavg } from 'node:os';
import { createRedisClient, RedisQueueV3, ValidatedQueue, type RedisClient } from '@outbound/core';
import { ChildGroup } from './child-processes';
import { startBenchRedis } from './bench-stores';
import { median } from './stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const BATCH = Number(process.env.BENCH_TRIM_BATCH ?? 500);
type Case = 'count' | 'random' | 'stream';

/** Finishes n commands whose ids carry the minute of `createdAt` (ms), acked through one replica (three events each). */
async function finish(store: RedisQueueV3, n: number, createdAt: number, tag: string): Promise<void> {
  const queue = new ValidatedQueue(store);
  const mint = store.newCommandId.bind(store);
  store.newCommandId = (phyId) => store.keys.newCommandId(store.keys.shardOf(phyId), createdAt);
  for (let from = 0; from < n; from += 500) {
    const size = Math.min(500, n - from);
    await queue.enqueueBatch(Array.from({ length: size }, (_, i) => ({ phyId: `${tag}-${from + i}`, payload: Buffer.alloc(32, 1), priority: 5, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5 })));
    const claimed = await queue.claim({ max: size, leaseMs: 600_000 });
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
  }
  store.newCommandId = mint;
}

/** One trim at `budget` (0: count only), timed by the server: µs and records trimmed. */
async function timedTrim(client: RedisClient, prefix: string, budget: number): Promise<{ us: number; trimmed: number; retained: number }> {
  const store = new RedisQueueV3(client, { prefix, shards: 1, ...(budget > 0 ? { retentionMaxBytes: budget } : {}) });
  try {
    await client.slowlog('RESET');
    const answer = await store.trimRetained();
    const log = (await client.slowlog('GET', 20)) as Array<[number, number, number, string[]]>;
    const entry = log.find((e) => String(e[3][0]).toLowerCase().startsWith('eval'));
    if (!entry) throw new Error('the trim is not in SLOWLOG');
    return { us: Number(entry[2]), trimmed: answer.trimmed, retained: answer.retainedBytes };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  const redis = await startBenchRedis(group, 'redis', { persistence: false });
  const client = createRedisClient({ url: redis.url });
  try {
    const now = Date.now();
    const stores: Record<Case, RedisQueueV3> = {
      count: new RedisQueueV3(client, { prefix: 'count', shards: 1 }),
      random: new RedisQueueV3(client, { prefix: 'random', shards: 1 }),
      stream: new RedisQueueV3(client, { prefix: 'stream', shards: 1 }),
    };
    for (let m = 0; m < 1_353; m += 1) await finish(stores.count, 3, now - (1_353 - m) * 60_000, `c${m}`);
    for (let m = 0; m < 40; m += 1) await finish(stores.random, BATCH, now - (40 + RUNS - m) * 60_000, `r${m}`);
    await finish(stores.stream, 20 * BATCH, now, 's');
    await client.config('SET', 'slowlog-log-slower-than', '0');
    const runs: Record<Case, Array<{ us: number; trimmed: number }>> = { count: [], random: [], stream: [] };
    for (let round = 0; round < RUNS; round += 1) {
      const order: Case[] = round % 2 === 0 ? ['count', 'random', 'stream'] : ['stream', 'random', 'count'];
      for (const name of order) {
        if (name === 'count') {
          runs.count.push(await timedTrim(client, name, 0));
          continue;
        }
        // BATCH more, then a budget that holds what was there before them
        const before = (await timedTrim(client, name, 0)).retained;
        await finish(stores[name], BATCH, name === 'random' ? now - (RUNS - round) * 60_000 : now, `${name}-${round}`);
        runs[name].push(await timedTrim(client, name, before));
      }
    }
    await client.config('SET', 'slowlog-log-slower-than', '10000');
    console.log(`trim-finished, one shard, ${RUNS} rounds interleaved, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (const name of ['count', 'random', 'stream'] as Case[]) {
      const perRecord = runs[name].filter((r) => r.trimmed > 0).map((r) => r.us / r.trimmed);
      const trimmed = runs[name].map((r) => r.trimmed);
      console.log(`${name.padEnd(6)} median ${median(runs[name].map((r) => r.us))} µs a run, ${perRecord.length ? `${median(perRecord).toFixed(2)} µs a record trimmed (median ${median(trimmed)} records a run)` : 'nothing trimmed'}`);
    }
    await Promise.all(Object.values(stores).map((s) => s.close()));
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
