import { execFile } from 'node:child_process';
import { DEFAULT_REDIS_LAYOUT, REDIS_LAYOUTS, type RedisLayout } from '@outbound/core';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchPgAdminUrl, startBenchRedis } from './bench-stores';
import { runBullmq, type BullmqResult } from './bullmq-core';
import { ChildGroup } from './child-processes';
import { median } from './stats';

/** One row of a queue-core table: commands per second for one claim batch size. */
export interface QueueCoreRow {
  batch: number;
  enqueuePerSec: number;
  claimAckPerSec: number;
  /** enqueue + claim + ack of every command, over the whole time. */
  endToEndPerSec: number;
  /** Redis CPU (user + sys) per command over the run: the Redis script's fifth column. */
  redisCpuUsPerCmd?: number;
}

export interface QueueCoreResult {
  commands: number;
  runs: number;
  /** The v2 layout (RedisQueue). */
  redis: QueueCoreRow[];
  /** The v3 layout (RedisQueueV3). */
  redisV3: QueueCoreRow[];
  /** The layout the dispatcher runs by default: the one the ratio below is taken from. */
  defaultLayout: RedisLayout;
  postgres: QueueCoreRow[];
  bullmq: BullmqResult[];
  /** Outbound Redis (default layout) end-to-end at batch 64 over the best BullMQ end-to-end. */
  redisBatch64OverBullmq: number;
  errors: string[];
}

const run = promisify(execFile);

/**
 * Enqueue calls (batches of 1,000) each side keeps in flight: queue-core.ts's default
 * (BENCH_ENQUEUE_CALLS) and BullMQ's addBulk calls alike.
 */
export const QUEUE_CORE_ENQUEUE_CALLS = 1;

/**
 * Reads the markdown table the engineers' queue-core scripts print (rows `| batch | enqueue |
 * claim+ack | end-to-end | ...`), so the harness runs their code unchanged instead of a copy.
 */
export function parseQueueCoreTable(stdout: string, options: { redisCpu?: boolean } = {}): QueueCoreRow[] {
  const rows: QueueCoreRow[] = [];
  for (const line of stdout.split('\n')) {
    const cells = line.split('|').map((c) => c.trim()).filter((c) => c.length > 0);
    if (cells.length < 4 || !/^\d+$/.test(cells[0]!)) continue;
    const [batch, enqueuePerSec, claimAckPerSec, endToEndPerSec] = cells.slice(0, 4).map(Number) as [number, number, number, number];
    const redisCpuUsPerCmd = options.redisCpu ? Number(cells[4]) : Number.NaN;
    rows.push({ batch, enqueuePerSec, claimAckPerSec, endToEndPerSec, ...(Number.isFinite(redisCpuUsPerCmd) ? { redisCpuUsPerCmd } : {}) });
  }
  return rows;
}

async function script(name: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<QueueCoreRow[]> {
  const { stdout } = await run(process.execPath, [join(__dirname, name)], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 1 << 20 });
  const rows = parseQueueCoreTable(stdout, { redisCpu: name === 'queue-core.js' });
  if (rows.length === 0) throw new Error(`${name} printed no result table:\n${stdout.slice(0, 500)}`);
  return rows;
}

/**
 * Queue core for each backend (claim batches 1, 16, 64 on Redis, each layout; 1 and 64 on PostgreSQL) by
 * the engineers' own scripts, then BullMQ on the same redis-server in the same run
 * (concurrency 1 and 64, median of `runs`).
 */
export async function runQueueCore(options: { commands: number; runs: number; log: (line: string) => void }): Promise<QueueCoreResult> {
  const group = new ChildGroup();
  const result: QueueCoreResult = {
    commands: options.commands, runs: options.runs, redis: [], redisV3: [], defaultLayout: DEFAULT_REDIS_LAYOUT, postgres: [], bullmq: [], redisBatch64OverBullmq: NaN, errors: [],
  };
  const common = { BENCH_COMMANDS: String(options.commands), BENCH_RUNS: String(options.runs) };
  try {
    // No AOF here, as the Redis engineer's script runs its own redis-server; BullMQ shares it.
    const redis = await startBenchRedis(group, 'queue-core-redis', { persistence: false });
    for (const layout of REDIS_LAYOUTS) {
      try {
        const rows = await script('queue-core.js', { ...common, OUTBOUND_BENCH_REDIS_URL: redis.url, BENCH_REDIS_LAYOUT: layout }, 300_000);
        if (layout === 'v3') result.redisV3 = rows;
        else result.redis = rows;
        options.log(`  redis queue core (${layout} layout): ${rows.map((r) => `batch ${r.batch} ${r.endToEndPerSec}/s`).join(', ')}`);
      } catch (error) {
        result.errors.push(`redis queue core (${layout} layout): ${(error as Error).message}`);
      }
    }
    for (const concurrency of [1, 64]) {
      try {
        const runs: BullmqResult[] = [];
        for (let i = 0; i < options.runs; i++) runs.push(await runBullmq(redis.url, { jobs: options.commands, concurrency, addCalls: QUEUE_CORE_ENQUEUE_CALLS }));
        // the run nearest the median (with an even count the median falls between two runs)
        const mid = median(runs.map((x) => x.endToEndPerSec));
        const pick = runs.reduce((best, r) => (Math.abs(r.endToEndPerSec - mid) < Math.abs(best.endToEndPerSec - mid) ? r : best));
        result.bullmq.push(pick);
        options.log(`  bullmq concurrency ${concurrency}: ${pick.endToEndPerSec}/s`);
      } catch (error) {
        result.errors.push(`bullmq concurrency ${concurrency}: ${(error as Error).message}`);
      }
    }
    await redis.stop();
    // Batch 1 on PostgreSQL is one commit per claim and per ack (~100/s here), so it runs a twentieth of the commands (at least 500).
    for (const [batch, commands] of [[1, Math.max(500, Math.round(options.commands / 20))], [64, options.commands]] as const) {
      try {
        const rows = await script('queue-core-postgres.js', { ...common, BENCH_COMMANDS: String(commands), BENCH_BATCHES: String(batch), OUTBOUND_BENCH_PG_URL: benchPgAdminUrl() }, 300_000);
        result.postgres.push(...rows);
        options.log(`  postgres queue core: batch ${batch} ${rows[0]!.endToEndPerSec}/s (${commands} commands)`);
      } catch (error) {
        result.errors.push(`postgres queue core batch ${batch}: ${(error as Error).message}`);
      }
    }
  } finally {
    await group.stopAll();
  }
  const batch64 = (result.defaultLayout === 'v3' ? result.redisV3 : result.redis).find((r) => r.batch === 64);
  const bestBull = Math.max(...result.bullmq.map((b) => b.endToEndPerSec));
  if (batch64 && bestBull > 0) result.redisBatch64OverBullmq = Math.round((batch64.endToEndPerSec / bestBull) * 100) / 100;
  return result;
}
