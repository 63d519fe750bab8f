/**
 * Queue core benchmark: enqueue + claim + ack throughput of RedisQueue on one local
 * redis-server, for claim batches of 1, 16 and 64 over 1,000 devices (median of 3 runs).
 *
 *   npm run build && npm run bench:queue
 *
 * Starts its own redis-server on a free port (no persistence) unless OUTBOUND_BENCH_REDIS_URL
 * is set. Env: BENCH_COMMANDS (default 20000), BENCH_RUNS (3), BENCH_CLAIMERS (1),
 * BENCH_BATCHES (1,16,64), BENCH_REDIS_LAYOUT (v2 or v3; default the services' default),
 * BENCH_ENQUEUE_CALLS (1) and BENCH_ACK_CALLS (1). The enqueue phase keeps BENCH_ENQUEUE_CALLS
 * batches of 1,000 in flight (a dispatcher's API keeps up to 4 on Redis:
 * DISPATCHER_ENQUEUE_CONCURRENCY). Then each claimer (one client) runs BENCH_ACK_CALLS chains on
 * its queue: a chain claims, then acks with its next claim in the same call (ackAndClaim; v2:
 * ack, then claim); a dispatcher's outcome recorder keeps up to two ack calls in flight. With
 * the defaults Node and Redis take turns and nothing overlaps: on the shared 2-core host 4 and 2
 * were slower in every pair measured (bench/README.md, "Queue core: calls in flight"). Besides
 * rates it prints Redis and Node CPU per command, over the run and per phase (enqueue; claim +
 * ack), which swing far less than rates when other work shares the machine (compare those first).
 *
 * Measured 2026-11-27 on the shared 2-core machine (load average 3.9-5.2), before (47f2879)
 * and after (3426f5e; 71588f4 after it touches no hot path) side by side in one run on one
 * redis-server, median of 3,
 * end-to-end = 20,000 enqueued, claimed and acked over the whole time:
 *
 * | claim batch | end-to-end before | after | Redis CPU us/cmd before | after | Node CPU us/cmd before | after |
 * |------------:|------------------:|------:|------------------------:|------:|-----------------------:|------:|
 * |           1 |               838 | 2,561 |                     587 |   197 |                    603 |   180 |
 * |          16 |             3,520 | 5,900 |                     210 |   121 |                    127 |    79 |
 * |          64 |             5,184 | 7,960 |                     140 |    83 |                     54 |    44 |
 *
 * BullMQ in the same run (add + no-op worker + completion, the BullMQ run of `npm run bench`): 2,662
 * (concurrency 1) and 5,335 (concurrency 64) end to end. This script after the change, alone:
 * batch 1 2,653, batch 16 6,552, batch 64 8,229 end to end (83 us Redis, 32 us Node per command).
 * Redis instructions for one batch-64 run (valgrind --tool=callgrind on redis-server, which
 * does not care how loaded the machine is): 15.4 G before, 8.9 G after.
 *
 * Where the time goes (callgrind, after): ~85% of Redis instructions run inside Lua; each
 * redis.call costs about what a network command does (~9 k instructions in the command, as
 * many again converting arguments and replies). Per command: enqueue ~5 calls, claim ~4, ack
 * ~10. So the 60,000/s target is out of reach at ~20 calls per command on this machine; what
 * is left to win is fewer calls (per-device state in one hash instead of the offline set,
 * backoff zset and in-flight set that an ack re-checks) or Redis Functions (FUNCTION LOAD:
 * helpers defined once instead of per call).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { ackThenClaim, createRedisClient, DEFAULT_REDIS_LAYOUT, REDIS_LAYOUTS, RedisQueue, RedisQueueV3, ValidatedQueue, type RedisLayout } from '@outbound/core';
import { freePort } from './child-processes';
import { coreInputs } from './core-inputs';
import { redisCpuSeconds } from './redis-cpu';
import { median } from './stats';

const DEVICES = 1_000;
const BATCHES = (process.env.BENCH_BATCHES ?? '1,16,64').split(',').map(Number);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLAIMERS = Number(process.env.BENCH_CLAIMERS ?? 1);
/** Enqueue calls (batches of 1,000) in flight at once (a dispatcher's API keeps up to 4 on Redis: DISPATCHER_ENQUEUE_CONCURRENCY). */
const ENQUEUE_CALLS = Number(process.env.BENCH_ENQUEUE_CALLS ?? 1);
/** Ack calls (each claiming the next batch) in flight at once per claimer (a dispatcher's outcome recorder keeps up to 2). */
const ACK_CALLS = Number(process.env.BENCH_ACK_CALLS ?? 1);
const LAYOUT = (process.env.BENCH_REDIS_LAYOUT ?? DEFAULT_REDIS_LAYOUT) as RedisLayout;
if (!REDIS_LAYOUTS.includes(LAYOUT)) throw new Error(`BENCH_REDIS_LAYOUT must be one of ${REDIS_LAYOUTS.join(', ')}: value was ${LAYOUT}`);

async function startRedis(): Promise<{ url: string; child: ChildProcess | null }> {
  if (process.env.OUTBOUND_BENCH_REDIS_URL) return { url: process.env.OUTBOUND_BENCH_REDIS_URL, child: null };
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedisClient({ url });
  probe.on('error', () => undefined);
  for (let i = 0; ; i += 1) {
    try {
      if ((await probe.ping()) === 'PONG') break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return { url, child };
}

interface RunResult {
  enqueuePerSec: number;
  claimAckPerSec: number;
  endToEndPerSec: number;
  /** Redis CPU (user + sys, INFO cpu) per command over the run: steadier than rates on a shared machine. */
  redisCpuUsPerCmd: number;
  /** This process' CPU per command over the run. */
  nodeCpuUsPerCmd: number;
  /** The same two split by phase: enqueue, then claim + ack. */
  redisEnqueueUsPerCmd: number;
  redisClaimAckUsPerCmd: number;
  nodeEnqueueUsPerCmd: number;
  nodeClaimAckUsPerCmd: number;
}

async function runOnce(url: string, batch: number, run: number): Promise<RunResult> {
  const clients = Array.from({ length: CLAIMERS }, () => createRedisClient({ url }));
  const prefix = `bench-${batch}-${run}-${Date.now()}`;
  const queues = clients.map((c) => new ValidatedQueue(LAYOUT === 'v3' ? new RedisQueueV3(c, { prefix, perDeviceCap: COMMANDS }) : new RedisQueue(c, { prefix, perDeviceCap: COMMANDS })));
  const inputs = coreInputs(COMMANDS, DEVICES);
  const redisStart = await redisCpuSeconds(clients[0]);
  const nodeStart = process.cpuUsage();
  const started = process.hrtime.bigint();
  // Up to ENQUEUE_CALLS batches of 1,000 in flight, as a dispatcher's API has (its enqueue concurrency).
  let next = 0;
  await Promise.all(
    Array.from({ length: ENQUEUE_CALLS }, async () => {
      while (next < inputs.length) {
        const from = next;
        next += 1_000;
        await queues[0].enqueueBatch(inputs.slice(from, from + 1_000));
      }
    }),
  );
  const enqueued = process.hrtime.bigint();
  const nodeEnqueue = process.cpuUsage(nodeStart);
  const redisEnqueued = await redisCpuSeconds(clients[0]);
  const nodeClaimStart = process.cpuUsage();
  const claimStarted = process.hrtime.bigint();
  let done = 0;
  await Promise.all(
    queues.flatMap((queue) =>
      // ACK_CALLS chains per claimer on one queue and connection (a dispatcher's outcome recorder
      // keeps up to two ack calls in flight): each ack claims the next batch in the same
      // call (v3: the ack script claims on its shard; v2: ack, then claim); a claim for what it
      // did not take.
      Array.from({ length: ACK_CALLS }, async () => {
        const next = { max: batch, leaseMs: 60_000 };
        let claimed = await queue.claim(next);
        while (claimed.length > 0) {
          done += claimed.length;
          claimed = (await ackThenClaim(queue, claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })), next)).claimed;
          if (claimed.length < batch) claimed = claimed.concat(await queue.claim({ max: batch - claimed.length, leaseMs: next.leaseMs }));
        }
      }),
    ),
  );
  const finished = process.hrtime.bigint();
  const nodeClaim = process.cpuUsage(nodeClaimStart);
  const redisFinished = await redisCpuSeconds(clients[0]);
  if (done !== COMMANDS) throw new Error(`claimed ${done} of ${COMMANDS}`);
  const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;
  await clients[0].eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end", 0, `${prefix}:*`);
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all(clients.map((c) => c.quit()));
  const perCmd = (cpu: NodeJS.CpuUsage) => (cpu.user + cpu.system) / COMMANDS;
  return {
    enqueuePerSec: COMMANDS / seconds(started, enqueued),
    claimAckPerSec: COMMANDS / seconds(claimStarted, finished),
    endToEndPerSec: COMMANDS / (seconds(started, enqueued) + seconds(claimStarted, finished)),
    redisCpuUsPerCmd: ((redisFinished - redisStart) * 1e6) / COMMANDS,
    nodeCpuUsPerCmd: perCmd(nodeEnqueue) + perCmd(nodeClaim),
    redisEnqueueUsPerCmd: ((redisEnqueued - redisStart) * 1e6) / COMMANDS,
    redisClaimAckUsPerCmd: ((redisFinished - redisEnqueued) * 1e6) / COMMANDS,
    nodeEnqueueUsPerCmd: perCmd(nodeEnqueue),
    nodeClaimAckUsPerCmd: perCmd(nodeClaim),
  };
}

async function main(): Promise<void> {
  const { url, child } = await startRedis();
  try {
    console.log(`${LAYOUT === 'v3' ? 'RedisQueueV3' : 'RedisQueue'} (${LAYOUT} layout) on ${url}: ${COMMANDS} commands over ${DEVICES} devices, 16 shards, ${ENQUEUE_CALLS} enqueue call(s) in flight, ${CLAIMERS} claimer(s) with ${ACK_CALLS} ack call(s) in flight each, median of ${RUNS} runs`);
    console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (the machine is shared: compare CPU per command, not only rates)`);
    const rows: string[] = [];
    for (const batch of BATCHES) {
      const results: RunResult[] = [];
      for (let run = 0; run < RUNS; run += 1) results.push(await runOnce(url, batch, run));
      const m = (key: keyof RunResult) => Math.round(median(results.map((r) => r[key])));
      const split = (redis: keyof RunResult, node: keyof RunResult) => `${m(redis)} / ${m(node)}`.padStart(21);
      rows.push(
        `| ${String(batch).padStart(11)} | ${String(m('enqueuePerSec')).padStart(15)} | ${String(m('claimAckPerSec')).padStart(17)} | ${String(m('endToEndPerSec')).padStart(18)} | ${String(m('redisCpuUsPerCmd')).padStart(16)} | ${String(m('nodeCpuUsPerCmd')).padStart(15)} | ${split('redisEnqueueUsPerCmd', 'nodeEnqueueUsPerCmd')} | ${split('redisClaimAckUsPerCmd', 'nodeClaimAckUsPerCmd')} |`,
      );
    }
    // The first four columns are parsed by queue-core-compare.ts (npm run bench): keep them first.
    console.log('| claim batch | enqueue cmds/s  | claim+ack cmds/s  | end-to-end cmds/s  | redis CPU us/cmd | node CPU us/cmd | enqueue redis/node us | claim+ack redis/node us |');
    console.log('|------------:|----------------:|------------------:|-------------------:|-----------------:|----------------:|----------------------:|------------------------:|');
    for (const row of rows) console.log(row);
  } finally {
    child?.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
