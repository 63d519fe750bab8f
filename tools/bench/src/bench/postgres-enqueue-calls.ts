/**
 * PostgreSQL enqueue under concurrent API requests: server CPU per command when many requests of
 * one command each arrive at once and go through the dispatcher's enqueue coalescer to
 * PostgresQueue, for each number of enqueue calls the coalescer may have in flight
 * (DISPATCHER_ENQUEUE_CONCURRENCY), in alternated rounds.
 *
 *   npm run build && npm run bench:pg-enqueue
 *
 * Env: BENCH_REQUESTS (concurrent requests, default 32), BENCH_COMMANDS (per round, 6000),
 * BENCH_CONCURRENCY (the calls in flight to compare, default "4,1"), BENCH_ROUNDS (3).
 * Uses OUTBOUND_BENCH_PG_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * each round migrates a schema of its own and drops it afterwards.
 *
 * "server CPU us/cmd" is what the round's own PostgreSQL backends spent on CPU per command
 * (/proc/<pid>/schedstat, so only with the server on this host): it hardly moves with the host's
 * load, where the rate does.
 */
import { createPgPool, PostgresQueue, runMigrations, ValidatedQueue } from '@outbound/core';
import { EnqueueCoalescer } from '@outbound/dispatcher/dist/enqueue-coalescer';
import { backendCpuReader } from './postgres-cpu';
import { median } from './stats';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 32);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 6_000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '4,1').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const URL = process.env.OUTBOUND_BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DEVICES = 1_000;
const POOL = 6;

async function round(concurrency: number, n: number): Promise<{ cpuUs: number; rate: number }> {
  const applicationName = `outbound-bench-enqueue-${process.pid}-${n}`;
  const pool = createPgPool({ url: URL, max: POOL, applicationName });
  const schema = `bench_enqueue_${process.pid}_${n}`;
  await runMigrations(pool, { schema });
  await Promise.all(Array.from({ length: POOL }, () => pool.query('SELECT 1')));
  const cpuNs = await backendCpuReader(pool, applicationName);
  const queue = new ValidatedQueue(new PostgresQueue(pool, { prefix: schema, perDeviceCap: COMMANDS }));
  const coalescer = new EnqueueCoalescer(queue, { concurrency, maxBatch: 1_000 });
  let next = 0;
  const before = cpuNs();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: REQUESTS }, async () => {
      while (next < COMMANDS) {
        const i = next++;
        await coalescer.enqueue({ phyId: `DEV${String(i % DEVICES).padStart(4, '0')}`, payload: Buffer.alloc(64, i & 0xff), priority: i % 10, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5 });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUs = (cpuNs() - before) / 1_000 / COMMANDS;
  await queue.close();
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  return { cpuUs, rate: COMMANDS / seconds };
}

async function main(): Promise<void> {
  console.log(`${REQUESTS} concurrent requests of one command, ${COMMANDS} commands over ${DEVICES} devices per round, ${ROUNDS} alternated rounds`);
  const results = new Map<number, Array<{ cpuUs: number; rate: number }>>(CONCURRENCY.map((c) => [c, []]));
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) for (const c of CONCURRENCY) results.get(c)!.push(await round(c, n++));
  console.log('| enqueue calls in flight | server CPU us/cmd (median, each round) | commands/s (median) |');
  console.log('|---:|---|---:|');
  for (const [c, rs] of results) {
    const cpu = rs.map((x) => x.cpuUs);
    console.log(`| ${c} | ${median(cpu).toFixed(1).replace('NaN', 'n/a')} (${cpu.map((x) => x.toFixed(0)).join(', ')}) | ${median(rs.map((x) => x.rate)).toFixed(0)} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
