/**
 * Queue core benchmark: enqueue + claim + ack throughput of RedisQueue on one local
 * redis-server, for claim batches of 1, 16 and 64 over 1,000 devices (median of 3 runs).
 *
 *   npm run build && npm run bench:queue
 *
 * Starts its own redis-server on a free port (no persistence) unless OUTBOUND_BENCH_REDIS_URL
 * is set. Env: BENCH_COMMANDS (default 20000), BENCH_RUNS (3), BENCH_CLAIMERS (1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRedisClient, RedisQueue, type EnqueueInput } from '@outbound/core';

const DEVICES = 1_000;
const BATCHES = [1, 16, 64];
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLAIMERS = Number(process.env.BENCH_CLAIMERS ?? 1);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
    server.on('error', reject);
  });
}

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
}

async function runOnce(url: string, batch: number, run: number): Promise<RunResult> {
  const clients = Array.from({ length: CLAIMERS }, () => createRedisClient({ url }));
  const prefix = `bench-${batch}-${run}-${Date.now()}`;
  const queues = clients.map((c) => new RedisQueue(c, { prefix, perDeviceCap: COMMANDS }));
  const inputs: EnqueueInput[] = Array.from({ length: COMMANDS }, (_, i) => ({
    phyId: `DEV${String(i % DEVICES).padStart(4, '0')}`,
    payload: Buffer.alloc(64, i & 0xff),
    priority: i % 10,
    ttlMs: 3_600_000,
    ackTimeoutMs: 10_000,
    maxAttempts: 5,
  }));
  const started = process.hrtime.bigint();
  for (let i = 0; i < inputs.length; i += 1_000) await queues[0].enqueueBatch(inputs.slice(i, i + 1_000));
  const enqueued = process.hrtime.bigint();
  let done = 0;
  await Promise.all(
    queues.map(async (queue) => {
      for (;;) {
        const claimed = await queue.claim({ max: batch, leaseMs: 60_000 });
        if (claimed.length === 0) return;
        await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
        done += claimed.length;
      }
    }),
  );
  const finished = process.hrtime.bigint();
  if (done !== COMMANDS) throw new Error(`claimed ${done} of ${COMMANDS}`);
  const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;
  await clients[0].eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end", 0, `${prefix}:*`);
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all(clients.map((c) => c.quit()));
  return {
    enqueuePerSec: COMMANDS / seconds(started, enqueued),
    claimAckPerSec: COMMANDS / seconds(enqueued, finished),
    endToEndPerSec: COMMANDS / seconds(started, finished),
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const { url, child } = await startRedis();
  try {
    console.log(`RedisQueue on ${url}: ${COMMANDS} commands over ${DEVICES} devices, 16 shards, ${CLAIMERS} claimer(s), median of ${RUNS} runs`);
    const rows: string[] = [];
    for (const batch of BATCHES) {
      const results: RunResult[] = [];
      for (let run = 0; run < RUNS; run += 1) results.push(await runOnce(url, batch, run));
      const m = (key: keyof RunResult) => Math.round(median(results.map((r) => r[key])));
      rows.push(`| ${String(batch).padStart(11)} | ${String(m('enqueuePerSec')).padStart(15)} | ${String(m('claimAckPerSec')).padStart(17)} | ${String(m('endToEndPerSec')).padStart(18)} |`);
    }
    console.log('| claim batch | enqueue cmds/s  | claim+ack cmds/s  | end-to-end cmds/s  |');
    console.log('|------------:|----------------:|------------------:|-------------------:|');
    for (const row of rows) console.log(row);
  } finally {
    child?.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
