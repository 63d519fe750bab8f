/**
 * PostgreSQL store bench on a table that holds many commands: what one claim and one enqueue of
 * BENCH_BATCH commands cost the server (µs per command and shared buffers touched per call, from
 * EXPLAIN (ANALYZE, BUFFERS) of claim_commands() and enqueue_commands()), for two schema
 * versions side by side in the same run: "base" (migrations up to BENCH_BASE_VERSION, default
 * 13) and "latest" (every migration), measured in alternating pairs (base, latest, base, ...).
 *
 *   npm run build && npm run bench:pg-store
 *
 * Each schema holds, before measuring: BENCH_BUSY devices with one command in flight each
 * (leases held for the run, as commands awaiting their ack) and BENCH_BUSY_BACKLOG queued behind
 * it (a device at saturation: work it cannot be given until its ack), BENCH_READY devices with
 * BENCH_PER_DEVICE queued commands each, and BENCH_FINISHED acked commands (retained history).
 * Its statistics are taken before the leases (BENCH_STATS), and the last column says which index
 * the cached plans then read for a device's in-flight count: commands_inflight (one probe), or
 * the lease index (every lease in the queue, for each device visited).
 * Every measured claim is followed by an ack of what it claimed (not measured), so the held
 * table stays the same size; every measured enqueue adds BENCH_BATCH commands to the ready devices.
 * The database is fresh (freshPgDatabase: autovacuum on, as in production); one connection runs
 * everything, so the functions' plans are cached for the run and rebuilt only when an ANALYZE
 * (explicit or autovacuum's) changes the statistics. Which plan a stale statistic yields varies
 * from run to run, hence several pairs.
 *
 * Env: BENCH_BATCH (200), BENCH_ROUNDS (15 measured claims and enqueues per schema and pair),
 * BENCH_PAIRS (3), BENCH_BUSY (5000), BENCH_BUSY_BACKLOG (0), BENCH_READY (1000), BENCH_PER_DEVICE (50), BENCH_FINISHED (20000),
 * BENCH_BASE_VERSION (13), BENCH_STATS (idle), BENCH_EXPLAIN, OUTBOUND_BENCH_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgPool, loadMigrations, MIGRATIONS_DIR, PostgresQueue, runMigrations, ValidatedQueue, type EnqueueInput } from '@outbound/core';
import { freshPgDatabase } from './bench-stores';
import { median } from './stats';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const BATCH = env('BENCH_BATCH', 200);
const ROUNDS = env('BENCH_ROUNDS', 15);
const PAIRS = env('BENCH_PAIRS', 3);
const BUSY = env('BENCH_BUSY', 5_000);
const BUSY_BACKLOG = env('BENCH_BUSY_BACKLOG', 0);
const READY = env('BENCH_READY', 1_000);
const PER_DEVICE = env('BENCH_PER_DEVICE', 50);
const FINISHED = env('BENCH_FINISHED', 20_000);
const BASE_VERSION = env('BENCH_BASE_VERSION', 13);
/**
 * BENCH_STATS: `idle` (default) analyzes the full table while nothing is in flight, then takes the
 * leases; `startup` builds the functions' plans on the empty schema (a dispatcher polling before
 * traffic) and analyzes nothing itself, so the plans stay those until autovacuum's first ANALYZE.
 */
const STATS = process.env.BENCH_STATS === 'startup' ? 'startup' : 'idle';
/** BENCH_EXPLAIN=1: print the plans (auto_explain, text, actual rows and buffers) of the statements inside the claim and the enqueue. */
const EXPLAIN = process.env.BENCH_EXPLAIN === '1';

type Pool = ReturnType<typeof createPgPool>;

interface Sample {
  claimUs: number;
  claimBuffers: number;
  enqueueUs: number;
  enqueueBuffers: number;
}

let serial = 0;
const command = (phyId: string, priority = serial % 10): EnqueueInput => ({
  phyId,
  payload: Buffer.alloc(64, serial++ & 0xff),
  priority,
  ttlMs: 3_600_000,
  ackTimeoutMs: 10_000,
  maxAttempts: 5,
});

/** A directory holding the first `version` migrations, for a schema as an older release left it. */
function migrationsUpTo(version: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbound-migrations-'));
  for (const m of loadMigrations().filter((x) => x.version <= version)) copyFileSync(join(MIGRATIONS_DIR, `${m.name}.sql`), join(dir, `${m.name}.sql`));
  return dir;
}

/** Execution time (ms) and shared buffers (hit + read, the function's own statements included) of one call. */
async function explained(pool: Pool, sql: string, params: unknown[]): Promise<{ ms: number; buffers: number; rows: number }> {
  const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number>; 'Execution Time': number }> }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    params,
  );
  const plan = rows[0]!['QUERY PLAN'][0]!;
  return { ms: plan['Execution Time'], buffers: plan.Plan['Shared Hit Blocks']! + plan.Plan['Shared Read Blocks']!, rows: plan.Plan['Actual Rows']! };
}

async function fill(pool: Pool, schema: string): Promise<ValidatedQueue<PostgresQueue>> {
  const queue = new ValidatedQueue(new PostgresQueue(pool, { prefix: schema, perDeviceCap: 1_000_000, globalCap: 10_000_000 }));
  const inBatches = async (inputs: EnqueueInput[]): Promise<void> => {
    for (let i = 0; i < inputs.length; i += 1_000) await queue.enqueueBatch(inputs.slice(i, i + 1_000));
  };
  const drain = async (ack: boolean, max = Infinity): Promise<number> => {
    let n = 0;
    while (n < max) {
      const claimed = await queue.claim({ max: Math.min(1_000, max - n), leaseMs: 3_600_000 });
      if (claimed.length === 0) break;
      n += claimed.length;
      if (ack) await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    }
    return n;
  };
  if (STATS === 'startup') {
    await drain(true);
    await inBatches([command('warm-up')]);
    await drain(true);
  }
  // finished history (claimed and acked), then the busy devices' one command each (priority 9, so
  // ahead of every ready line), then the ready lines
  await inBatches(Array.from({ length: FINISHED }, (_, i) => command(`done-${i % 1_000}`)));
  await drain(true);
  await inBatches(Array.from({ length: BUSY * (1 + BUSY_BACKLOG) }, (_, i) => command(`busy-${i % BUSY}`, 9)));
  await inBatches(Array.from({ length: READY * PER_DEVICE }, (_, i) => command(`ready-${i % READY}`)));
  // Statistics from a quiet moment, nothing in flight (as autovacuum leaves them after an idle
  // spell; it analyzes again only once 10 % of the rows changed), then a burst takes the busy
  // devices' leases, which stays under that threshold.
  if (STATS === 'idle') {
    await pool.query(`VACUUM ANALYZE "${schema}".commands`);
    await pool.query(`VACUUM ANALYZE "${schema}".devices`);
  }
  const held = await drain(false, BUSY);
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".commands WHERE status = 'inflight' AND phy_id LIKE 'busy-%'`);
  if (held !== BUSY || rows[0]!.n !== BUSY) throw new Error(`held ${rows[0]!.n} busy leases of ${BUSY}`);
  return queue;
}

/** One claim (then its ack, not measured) and one enqueue of BATCH commands. */
async function round(pool: Pool, schema: string, queue: ValidatedQueue<PostgresQueue>, n: number): Promise<Sample> {
  const claim = await explained(pool, `SELECT * FROM "${schema}".claim_commands($1, $2, $3)`, [BATCH, 3_600_000, 1]);
  // the claimed commands, to ack: the leases of ready devices
  const { rows } = await pool.query<{ id: string; lease_token: string }>(
    `SELECT id, lease_token FROM "${schema}".commands WHERE status = 'inflight' AND phy_id LIKE 'ready-%'`,
  );
  if (rows.length !== BATCH || claim.rows !== BATCH) throw new Error(`claimed ${claim.rows} (${rows.length} in flight), expected ${BATCH}`);
  await queue.ack(rows.map((r) => ({ id: r.id, leaseToken: r.lease_token, outcome: 'ok' as const })));
  const inputs = Array.from({ length: BATCH }, (_, i) => command(`ready-${(n * BATCH + i) % READY}`));
  const enqueue = await explained(
    pool,
    `SELECT * FROM "${schema}".enqueue_commands($1::uuid[], $2::text[], $3::bytea[], $4::int[], $5::int[], $6::int[], $7::bigint[],
       $8::text[], $9::float8[], $10::text[], $11::text[], $12, $13, $14)`,
    [
      inputs.map((x) => queue.store.newCommandId(x.phyId)),
      inputs.map((x) => x.phyId),
      inputs.map((x) => x.payload),
      inputs.map((x) => x.priority),
      inputs.map((x) => x.maxAttempts),
      inputs.map((x) => x.ackTimeoutMs),
      inputs.map((x) => x.ttlMs),
      ...Array.from({ length: 4 }, () => inputs.map(() => null)),
      1_000_000,
      10_000_000,
      0,
    ],
  );
  if (enqueue.rows !== BATCH) throw new Error(`enqueue answered ${enqueue.rows} rows, expected ${BATCH}`);
  return { claimUs: (claim.ms * 1_000) / BATCH, claimBuffers: claim.buffers, enqueueUs: (enqueue.ms * 1_000) / BATCH, enqueueBuffers: enqueue.buffers };
}

/** auto_explain's notices on the bench's one connection, while collecting. */
const notices: string[] = [];
let collecting = false;

/**
 * ROUNDS measured rounds, then one more with auto_explain on (not measured: printing plans costs
 * time) that tells which index the claim's and the enqueue's in-flight count read. BENCH_EXPLAIN=1
 * prints that round's plans, with actual rows and buffers.
 */
async function measure(pool: Pool, schema: string, queue: ValidatedQueue<PostgresQueue>): Promise<{ samples: Sample[]; countIndex: string }> {
  const samples: Sample[] = [];
  for (let n = 0; n < ROUNDS; n++) samples.push(await round(pool, schema, queue, n));
  await pool.query(`LOAD 'auto_explain'`);
  await pool.query(
    `SET auto_explain.log_level = notice; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
     SET auto_explain.log_analyze = ${EXPLAIN ? 'on' : 'off'}; SET auto_explain.log_buffers = on; SET auto_explain.log_format = ${EXPLAIN ? 'text' : 'json'}`,
  );
  notices.length = 0;
  collecting = true;
  try {
    await round(pool, schema, queue, ROUNDS);
  } finally {
    collecting = false;
    await pool.query('SET auto_explain.log_min_duration = -1');
  }
  if (EXPLAIN) for (const text of notices) if (/WITH (candidates|item)/.test(text)) console.log(text);
  const counted = (marker: string): string => {
    const plan = notices.find((text) => text.includes(marker)) ?? '';
    return /commands_lease/.test(plan) ? 'every lease' : /commands_inflight/.test(plan) ? 'commands_inflight' : '?';
  };
  return { samples, countIndex: `${counted('WITH candidates')} / ${counted('WITH item')}` };
}

async function main(): Promise<void> {
  const db = await freshPgDatabase('outbound_bench_held');
  // one connection: the functions' cached plans and the auto_explain settings live in one session
  const pool = createPgPool({ url: db.url, max: 1, applicationName: 'outbound-bench-held' });
  pool.on('connect', (client) => client.on('notice', (n) => collecting && notices.push(n.message ?? '')));
  const baseDir = migrationsUpTo(BASE_VERSION);
  const latest = loadMigrations().at(-1)!.version;
  const results = new Map<string, Sample[][]>([['base', []], ['latest', []]]);
  const countIndexes = new Map<string, string[]>([['base', []], ['latest', []]]);
  try {
    console.log(
      `PostgreSQL store, held table: ${BUSY} devices with a command in flight and ${BUSY_BACKLOG} queued behind it, ${READY} ready devices x ${PER_DEVICE} queued, ${FINISHED} acked; ` +
        `batch ${BATCH}, ${ROUNDS} claims and enqueues per schema, ${PAIRS} pairs alternated; statistics ${STATS}; autovacuum ${db.autovacuum}`,
    );
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const [label, directory] of [['base', baseDir], ['latest', undefined]] as const) {
        const schema = `held_${label}_${pair}`;
        await runMigrations(pool, { schema, directory });
        const queue = await fill(pool, schema);
        const measured = await measure(pool, schema, queue);
        results.get(label)!.push(measured.samples);
        countIndexes.get(label)!.push(measured.countIndex);
        await queue.close();
        await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      }
    }
    console.log(`| schema | claim µs/cmd | claim buffers/call | enqueue µs/cmd | enqueue buffers/call | in-flight count read (claim / enqueue) |`);
    console.log(`|--------|-------------:|-------------------:|---------------:|---------------------:|----------------------------------------|`);
    for (const [label, pairs] of results) {
      const per = (key: keyof Sample, digits: number): string => pairs.map((samples) => median(samples.map((s) => s[key])).toFixed(digits)).join(' / ');
      const name = label === 'base' ? `base (0001-${String(BASE_VERSION).padStart(4, '0')})` : `latest (0001-${String(latest).padStart(4, '0')})`;
      console.log(`| ${name} | ${per('claimUs', 0)} | ${per('claimBuffers', 0)} | ${per('enqueueUs', 0)} | ${per('enqueueBuffers', 0)} | ${countIndexes.get(label)!.join('; ')} |`);
    }
    console.log('(each cell: the median of each pair, in run order)');
  } finally {
    rmSync(baseDir, { recursive: true, force: true });
    await pool.end();
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
