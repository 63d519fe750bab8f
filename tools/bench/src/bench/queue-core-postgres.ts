/**
 * Queue core benchmark on PostgreSQL: enqueue + claim + ack throughput of PostgresQueue for
 * claim batches of 1, 16 and 64 over 1,000 devices (median of BENCH_RUNS runs), the same
 * workload as queue-core.ts runs on Redis. Acks name a replica, as the dispatcher's do, so each
 * command logs the events a delivery logs (queued, delivered, acked).
 *
 *   npm run build && node tools/bench/dist/bench/queue-core-postgres.js
 *
 * Uses OUTBOUND_BENCH_PG_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * each run migrates a schema of its own and drops it afterwards.
 * Env: BENCH_COMMANDS (default 10000), BENCH_RUNS (3), BENCH_CLAIMERS (1), BENCH_BATCHES (1,16,64),
 * BENCH_HOLD (0), BENCH_ACK_CHUNK (the claim batch).
 *
 * BENCH_HOLD=n: each claimer keeps up to n claimed commands unacked (as a dispatcher holds the
 * deliveries it awaits); past that, and after a claim that came back empty, it acks its oldest
 * BENCH_ACK_CHUNK commands, then claims again. With n near the device count most devices are at
 * their in-flight limit with work queued behind, as at saturation, and with a small chunk each
 * claim finds a handful of devices free again, as the dispatcher's claims woken by each recorded
 * outcome do. "empty claims %" is the share of claims that returned nothing (the last included).
 *
 * "server CPU us/cmd" is the CPU time the run's own PostgreSQL backends spent per command (from
 * /proc/<pid>/schedstat, so only when the server runs on this host; "n/a" otherwise): unlike the
 * rates it hardly moves with the host's load, so it compares two versions on a busy machine.
 * "all server CPU us/cmd" is the CPU of every process of the server over the run (postmaster, backends,
 * WAL writer, checkpointer, autovacuum; postgres-cpu.ts serverCpuReader): it also counts the WAL
 * flushes a commit that does not wait leaves to the WAL writer, and, like the WAL column, it is exact
 * only on a PostgreSQL of the run's own.
 * "WAL records/cmd" is the growth of pg_stat_wal.wal_records over the run per command: every
 * row version, index entry, lock and commit the store wrote. It counts the whole server (other
 * sessions, autovacuum), so it is exact only on a PostgreSQL of the run's own.
 */
import { createPgPool, PostgresQueue, runMigrations, ValidatedQueue, type ClaimedCommand } from '@outbound/core';
import { coreInputs } from './core-inputs';
import { backendCpuNs, backendPids, serverCpuReader } from './postgres-cpu';
import { median } from './stats';

const DEVICES = 1_000;
const BATCHES = (process.env.BENCH_BATCHES ?? '1,16,64').split(',').map(Number);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CLAIMERS = Number(process.env.BENCH_CLAIMERS ?? 1);
const HOLD = Number(process.env.BENCH_HOLD ?? 0);
const ACK_CHUNK = process.env.BENCH_ACK_CHUNK === undefined ? null : Number(process.env.BENCH_ACK_CHUNK);
const URL = process.env.OUTBOUND_BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface RunResult {
  enqueuePerSec: number;
  claimAckPerSec: number;
  endToEndPerSec: number;
  claimP50Ms: number;
  claimP99Ms: number;
  serverCpuUsPerCommand: number;
  allServerCpuUsPerCommand: number;
  walRecordsPerCommand: number;
  emptyClaimsPercent: number;
}

/** WAL records written by the whole server so far (pg_stat_wal, PostgreSQL 14+). */
async function walRecords(pool: ReturnType<typeof createPgPool>): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT wal_records::text AS n FROM pg_stat_wal');
  return Number(rows[0]!.n);
}

/** Nanoseconds on CPU of each backend serving `applicationName` (empty when /proc cannot see them). */
async function backendCpu(pool: ReturnType<typeof createPgPool>, applicationName: string): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  for (const pid of await backendPids(pool, applicationName)) {
    const ns = backendCpuNs(pid);
    if (!Number.isNaN(ns)) cpu.set(pid, ns); // NaN: another host's server, or the backend just ended
  }
  return cpu;
}

async function runOnce(batch: number, run: number): Promise<RunResult> {
  const applicationName = `outbound-bench-${process.pid}-${batch}-${run}`;
  const pool = createPgPool({ url: URL, max: CLAIMERS + 2, applicationName });
  const schema = `bench_${batch}_${run}_${Date.now()}`;
  await runMigrations(pool, { schema });
  await Promise.all(Array.from({ length: CLAIMERS + 2 }, () => pool.query('SELECT 1')));
  const cpuBefore = await backendCpu(pool, applicationName);
  const allServerCpu = await serverCpuReader(pool);
  const allBefore = allServerCpu();
  const walBefore = await walRecords(pool);
  const queues = Array.from({ length: CLAIMERS }, () => new ValidatedQueue(new PostgresQueue(pool, { prefix: schema, perDeviceCap: COMMANDS })));
  const inputs = coreInputs(COMMANDS, DEVICES);
  const claimMs: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < inputs.length; i += 1_000) await queues[0]!.enqueueBatch(inputs.slice(i, i + 1_000));
  const enqueued = process.hrtime.bigint();
  let done = 0;
  let empty = 0;
  await Promise.all(
    queues.map(async (queue) => {
      const held: ClaimedCommand[] = [];
      for (;;) {
        const t0 = process.hrtime.bigint();
        const claimed = await queue.claim({ max: batch, leaseMs: 60_000 });
        claimMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (claimed.length === 0) empty++;
        held.push(...claimed);
        if (held.length === 0) return;
        if (held.length <= HOLD && claimed.length > 0) continue;
        const oldest = held.splice(0, ACK_CHUNK ?? batch);
        await queue.ack(oldest.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'bench' })));
        done += oldest.length;
      }
    }),
  );
  const finished = process.hrtime.bigint();
  const cpuAfter = await backendCpu(pool, applicationName);
  const allAfter = allServerCpu();
  const walAfter = await walRecords(pool);
  const serverNs = [...cpuAfter].reduce((sum, [pid, ns]) => sum + ns - (cpuBefore.get(pid) ?? ns), 0);
  if (done !== COMMANDS) throw new Error(`claimed ${done} of ${COMMANDS}`);
  await Promise.all(queues.map((q) => q.close()));
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  const seconds = (from: bigint, to: bigint): number => Number(to - from) / 1e9;
  const sorted = [...claimMs].sort((a, b) => a - b);
  return {
    enqueuePerSec: COMMANDS / seconds(started, enqueued),
    claimAckPerSec: COMMANDS / seconds(enqueued, finished),
    endToEndPerSec: COMMANDS / seconds(started, finished),
    claimP50Ms: sorted[Math.floor(sorted.length * 0.5)]!,
    claimP99Ms: sorted[Math.floor(sorted.length * 0.99)]!,
    serverCpuUsPerCommand: cpuAfter.size > 0 ? serverNs / 1_000 / COMMANDS : NaN,
    allServerCpuUsPerCommand: (allAfter - allBefore) / 1_000 / COMMANDS,
    walRecordsPerCommand: (walAfter - walBefore) / COMMANDS,
    emptyClaimsPercent: (100 * empty) / claimMs.length,
  };
}

async function main(): Promise<void> {
  const lag = HOLD > 0 ? `, ${HOLD} held unacked, acked ${ACK_CHUNK ?? 'a claim batch'} at a time` : '';
  console.log(`PostgresQueue on ${URL.replace(/\/\/[^@]*@/, '//')}: ${COMMANDS} commands over ${DEVICES} devices, ${CLAIMERS} claimer(s)${lag}, median of ${RUNS} runs`);
  console.log('| claim batch | enqueue cmds/s | claim+ack cmds/s | end-to-end cmds/s | claim p50 ms | claim p99 ms | server CPU us/cmd | all server CPU us/cmd | WAL records/cmd | empty claims % |');
  console.log('|------------:|---------------:|-----------------:|------------------:|-------------:|-------------:|------------------:|----------------------:|----------------:|---------------:|');
  for (const batch of BATCHES) {
    const results: RunResult[] = [];
    for (let run = 0; run < RUNS; run += 1) results.push(await runOnce(batch, run));
    const m = (key: keyof RunResult, digits = 0): string => median(results.map((r) => r[key])).toFixed(digits);
    console.log(`| ${batch} | ${m('enqueuePerSec')} | ${m('claimAckPerSec')} | ${m('endToEndPerSec')} | ${m('claimP50Ms', 2)} | ${m('claimP99Ms', 2)} | ${m('serverCpuUsPerCommand', 1).replace('NaN', 'n/a')} | ${m('allServerCpuUsPerCommand', 1).replace('NaN', 'n/a')} | ${m('walRecordsPerCommand', 1)} | ${m('emptyClaimsPercent', 1)} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
