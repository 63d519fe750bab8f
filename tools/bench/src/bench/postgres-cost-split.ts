/**
 * Where PostgreSQL's work per command goes: server CPU and WAL bytes of the enqueue, the claim and
 * the ack apart, for each batch size, on one connection (so one backend does all of it).
 *
 *   npm run build && node tools/bench/dist/bench/postgres-cost-split.js
 *
 * Each run enqueues BENCH_COMMANDS commands over 1,000 devices in calls of BENCH_ENQUEUE_BATCH,
 * then claims them in claims of the batch size and acks each claim as one call (acks name a
 * replica, as the dispatcher's do, so every command logs queued, delivered and acked). Batch sizes
 * alternate within a round, BENCH_ROUNDS rounds, medians printed. The fixed cost of a call and the
 * cost per command follow from two batch sizes: per call = fixed + n x per command.
 *
 * Env: BENCH_BATCHES (claim and ack batch sizes, default "1,20,64"), BENCH_ENQUEUE_BATCH (50),
 * BENCH_COMMANDS (2000; at a batch of 1 a tenth of it, at least 200), BENCH_ROUNDS (3).
 * Uses OUTBOUND_BENCH_PG_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
 * each run migrates a schema of its own and drops it afterwards.
 *
 * "CPU us/cmd" is the backend's CPU time (/proc/<pid>/schedstat: only with the server on this
 * host) per command over each step's calls; "WAL B/cmd" is the growth of the WAL insert position
 * over them (pg_current_wal_insert_lsn: the whole server, exact on a PostgreSQL of the run's own).
 */
import { createPgPool, PostgresQueue, runMigrations, ValidatedQueue } from '@outbound/core';
import { backendCpuNs } from './postgres-cpu';
import { median } from './stats';

const BATCHES = (process.env.BENCH_BATCHES ?? '1,20,64').split(',').map(Number);
const ENQUEUE_BATCH = Number(process.env.BENCH_ENQUEUE_BATCH ?? 50);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 2_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const URL = process.env.OUTBOUND_BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DEVICES = 1_000;
const STEPS = ['enqueue', 'claim', 'ack'] as const;
type Step = (typeof STEPS)[number];

interface Split {
  cpuUs: Record<Step, number>;
  walBytes: Record<Step, number>;
}

async function run(batch: number, round: number): Promise<Split> {
  const commands = batch === 1 ? Math.max(200, Math.round(COMMANDS / 10)) : COMMANDS;
  const pool = createPgPool({ url: URL, max: 1, applicationName: `outbound-bench-split-${process.pid}` });
  const schema = `bench_split_${process.pid}_${batch}_${round}`;
  await runMigrations(pool, { schema });
  const queue = new ValidatedQueue(new PostgresQueue(pool, { prefix: schema, perDeviceCap: commands }));
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  const cpuNs = (): number => backendCpuNs(pid);
  const walAt = async (): Promise<number> =>
    Number((await pool.query<{ b: string }>(`SELECT (pg_current_wal_insert_lsn() - '0/0')::text AS b`)).rows[0]!.b);
  const cpu = { enqueue: 0, claim: 0, ack: 0 };
  const wal = { enqueue: 0, claim: 0, ack: 0 };
  const measured = async <T>(step: Step, call: () => Promise<T>): Promise<T> => {
    const w0 = await walAt();
    const c0 = cpuNs();
    const result = await call();
    cpu[step] += cpuNs() - c0;
    wal[step] += (await walAt()) - w0;
    return result;
  };
  const inputs = Array.from({ length: commands }, (_, i) => ({
    phyId: `DEV${String(i % DEVICES).padStart(4, '0')}`, payload: Buffer.alloc(32, i & 0xff), priority: 4, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5,
  }));
  for (let i = 0; i < commands; i += ENQUEUE_BATCH) await measured('enqueue', () => queue.enqueueBatch(inputs.slice(i, i + ENQUEUE_BATCH)));
  let acked = 0;
  for (;;) {
    const claimed = await measured('claim', () => queue.claim({ max: batch, leaseMs: 60_000 }));
    if (claimed.length === 0) break;
    await measured('ack', () => queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'bench' }))));
    acked += claimed.length;
  }
  if (acked !== commands) throw new Error(`acked ${acked} of ${commands}`);
  await queue.close();
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  const per = (x: Record<Step, number>, scale: number): Record<Step, number> =>
    ({ enqueue: x.enqueue / scale / commands, claim: x.claim / scale / commands, ack: x.ack / scale / commands });
  return { cpuUs: per(cpu, 1_000), walBytes: per(wal, 1) };
}

async function main(): Promise<void> {
  console.log(`PostgresQueue on ${URL.replace(/\/\/[^@]*@/, '//')}: one connection, ${DEVICES} devices, enqueues of ${ENQUEUE_BATCH}, median of ${ROUNDS} rounds`);
  console.log('| claim/ack batch | CPU us/cmd enqueue | claim | ack | total | WAL B/cmd enqueue | claim | ack | total |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const results = new Map<number, Split[]>(BATCHES.map((b) => [b, []]));
  for (let round = 0; round < ROUNDS; round++) for (const batch of BATCHES) results.get(batch)!.push(await run(batch, round));
  for (const batch of BATCHES) {
    const splits = results.get(batch)!;
    const m = (key: 'cpuUs' | 'walBytes', step: Step | 'total'): number =>
      median(splits.map((s) => (step === 'total' ? s[key].enqueue + s[key].claim + s[key].ack : s[key][step])));
    const cells = (key: 'cpuUs' | 'walBytes'): string => [...STEPS, 'total' as const].map((step) => m(key, step).toFixed(0).replace('NaN', 'n/a')).join(' | ');
    console.log(`| ${batch} | ${cells('cpuUs')} | ${cells('walBytes')} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
