/**
 * PostgreSQL outcomes as a dispatcher records them at saturation: claims of up to 200 over 1,000
 * devices with one command in flight each, every claimed command acked 0-4 ms after its claim
 * through the dispatcher's OutcomeRecorder (two calls in flight, a call per event-loop turn). Prints
 * the server CPU per command (claims and acks; the enqueue before is not counted), the ack
 * statements the server ran and the commands per statement, for each build in BENCH_ROOTS,
 * alternated round by round.
 *
 *   npm run build && BENCH_ROOTS=/path/to/base,. node tools/bench/dist/bench/postgres-outcome-calls.js
 *
 * Env: BENCH_ROOTS (checkouts whose packages/core and services/dispatcher builds are compared,
 * default this one), BENCH_COMMANDS (6000), BENCH_ROUNDS (3). Uses OUTBOUND_BENCH_PG_URL or
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); each run migrates a schema
 * of its own and drops it afterwards. Ack statements are counted by pg_stat_statements when the
 * server has it (else "n/a"); server CPU from /proc/<pid>/schedstat (only with the server on this host).
 */
import path from 'node:path';
import type { AckItem, CommandQueue, Logger } from '@outbound/core';
import { backendCpuReader } from './postgres-cpu';
import { median } from './stats';

const ROOTS = (process.env.BENCH_ROOTS ?? path.resolve(__dirname, '../../../..')).split(',').map((r) => path.resolve(r));
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 6_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const URL = process.env.OUTBOUND_BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DEVICES = 1_000;
const POOL = 4;

interface Result {
  cpuUs: number;
  statements: number;
  perStatement: number;
  rate: number;
}

/* eslint-disable @typescript-eslint/no-require-imports -- each build is loaded from its own checkout */
async function runOnce(root: string, n: number): Promise<Result> {
  const core = require(path.join(root, 'packages/core/dist/index.js')) as typeof import('@outbound/core');
  const { OutcomeRecorder } = require(path.join(root, 'services/dispatcher/dist/outcome-recorder.js')) as {
    OutcomeRecorder: new (queue: CommandQueue, logger: Logger, options: object) => { record(kind: 'ack', item: AckItem): Promise<{ ok: boolean }> };
  };
  const applicationName = `outbound-bench-outcomes-${process.pid}-${n}`;
  const pool = core.createPgPool({ url: URL, max: POOL, applicationName });
  const schema = `bench_outcomes_${process.pid}_${n}`;
  await core.runMigrations(pool, { schema });
  await Promise.all(Array.from({ length: POOL }, () => pool.query('SELECT 1')));
  const queue = new core.ValidatedQueue(new core.PostgresQueue(pool, { prefix: schema, perDeviceCap: COMMANDS }));
  const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => silent } as unknown as Logger;
  const recorder = new OutcomeRecorder(queue, silent, {});
  const inputs = Array.from({ length: COMMANDS }, (_, i) => ({
    phyId: `DEV${String(i % DEVICES).padStart(4, '0')}`, payload: Buffer.alloc(32, i & 0xff), priority: 4, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5,
  }));
  for (let i = 0; i < COMMANDS; i += 1_000) await queue.enqueueBatch(inputs.slice(i, i + 1_000));
  const cpuNs = await backendCpuReader(pool, applicationName);
  const before = cpuNs();
  const started = process.hrtime.bigint();
  let acked = 0;
  let freed: (() => void) | null = null;
  await new Promise<void>((resolve, reject) => {
    const ack = (item: AckItem): void => {
      recorder.record('ack', item).then((result) => {
        if (!result.ok) throw new Error(`ack of ${item.id} failed`);
        acked++;
        freed?.();
        if (acked === COMMANDS) resolve();
      }).catch(reject);
    };
    void (async () => {
      while (acked < COMMANDS) {
        const claimed = await queue.claim({ max: 200, leaseMs: 60_000 });
        for (const c of claimed) setTimeout(() => ack({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok', replica: 'bench' }), Math.random() * 4);
        if (claimed.length === 0 && acked < COMMANDS) await new Promise<void>((r) => { freed = () => { freed = null; r(); }; });
      }
    })().catch(reject);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuUs = (cpuNs() - before) / 1_000 / COMMANDS;
  let statements = NaN;
  let perStatement = NaN;
  try {
    const st = await pool.query<{ calls: number; rows: number }>(
      `SELECT sum(calls)::int AS calls, sum(rows)::int AS rows FROM pg_stat_statements WHERE query LIKE '%result = i.result%' AND query LIKE $1`,
      [`%${schema}%`],
    );
    statements = st.rows[0]!.calls;
    perStatement = st.rows[0]!.rows / statements;
  } catch {
    // no pg_stat_statements on this server
  }
  await queue.close();
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  return { cpuUs, statements, perStatement, rate: COMMANDS / seconds };
}

async function main(): Promise<void> {
  console.log(`PostgresQueue on ${URL.replace(/\/\/[^@]*@/, '//')}: ${COMMANDS} commands over ${DEVICES} devices, claims of up to 200, acks through OutcomeRecorder 0-4 ms after the claim, median of ${ROUNDS} rounds`);
  console.log('| build | server CPU us/cmd (each round) | ack statements | commands per ack statement | claim+ack cmds/s |');
  console.log('|---|---|---:|---:|---:|');
  const results = new Map<string, Result[]>(ROOTS.map((r) => [r, []]));
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) for (const root of ROOTS) results.get(root)!.push(await runOnce(root, n++));
  for (const root of ROOTS) {
    const rs = results.get(root)!;
    const m = (key: keyof Result, digits = 0): string => median(rs.map((r) => r[key])).toFixed(digits).replace('NaN', 'n/a');
    console.log(`| ${root} | ${rs.map((r) => r.cpuUs.toFixed(0)).join(', ')} (**${m('cpuUs')}**) | ${m('statements')} | ${m('perStatement', 1)} | ${m('rate')} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
