import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgPool, createRedisClient } from '@outbound/core';
import { freePort, waitUntil, type ChildGroup } from './child-processes';

/** A redis-server started for the bench, configured as production requires (docs/deploy.md, Redis settings). */
export interface BenchRedis {
  url: string;
  pid: number;
  port: number;
  /** The data directory (AOF), kept until stop(): a restart on the same port and directory reloads it. */
  dir: string;
  stop(): Promise<void>;
}

/** How startBenchRedis starts the server; `port` and `dir` restart one that was killed, on its data. */
export interface BenchRedisOptions {
  persistence?: boolean;
  port?: number;
  dir?: string;
  /** More redis-server arguments, e.g. `['--maxmemory', '64mb']`. */
  extraArgs?: string[];
}

/**
 * Starts redis-server on 127.0.0.1 with AOF on (`appendfsync everysec`, the production setting
 * production asks for) and `maxmemory-policy noeviction`, in a temporary directory removed on stop.
 * `persistence: false` turns AOF off (queue-core section, to match the Redis engineer's script).
 */
export async function startBenchRedis(group: ChildGroup, name: string, options: BenchRedisOptions = {}): Promise<BenchRedis> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'outbound-bench-redis-'));
  const persistence = options.persistence ?? true;
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', persistence ? 'yes' : 'no', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction',
    ...(options.extraArgs ?? []),
  ];
  // REDIS_SERVER_BIN: the same override the test harness honours (a redis-server not on PATH).
  const child = group.spawn(name, process.env.REDIS_SERVER_BIN ?? 'redis-server', args);
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedisClient({ url });
  probe.on('error', () => undefined);
  try {
    await waitUntil(`redis-server on ${url}`, 10_000, async () => (await probe.ping()) === 'PONG');
  } finally {
    probe.disconnect();
  }
  return {
    url,
    pid: child.pid!,
    port,
    dir,
    async stop() {
      await group.stop(name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL to bench against: OUTBOUND_BENCH_PG_URL, else PG_URL, else the local server on 5432 (trust auth). */
export function benchPgAdminUrl(): string {
  return process.env.OUTBOUND_BENCH_PG_URL ?? process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

/**
 * Creates a fresh database for one bench section (dropped first if a previous run left it),
 * so every run starts from an empty queue. Answers its URL and a function that drops it.
 *
 * Autovacuum runs as in production: PostgreSQL has no per-database switch for it, so when the
 * server has it off (a CI-style configuration), it is turned on server-wide (ALTER SYSTEM, then a
 * reload) for the section and turned back off by drop(). Without it the hot tables keep every
 * dead row version and the planner never learns their size, which is not what a deployment sees.
 */
export async function freshPgDatabase(database: string): Promise<{ url: string; autovacuum: 'on' | 'turned on for this run'; drop(): Promise<void> }> {
  const adminUrl = benchPgAdminUrl();
  const admin = createPgPool({ url: adminUrl, max: 1, applicationName: 'outbound-bench' });
  let turnedOn = false;
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
    turnedOn = await ensureAutovacuum(admin);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    autovacuum: turnedOn ? 'turned on for this run' : 'on',
    async drop() {
      const client = createPgPool({ url: adminUrl, max: 1, applicationName: 'outbound-bench' });
      try {
        await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        if (turnedOn) {
          await client.query('ALTER SYSTEM RESET autovacuum');
          await client.query('SELECT pg_reload_conf()');
        }
      } finally {
        await client.end();
      }
    },
  };
}

/** Turns autovacuum on when the server has it off; true when it did. Waits until the server reports it on. */
async function ensureAutovacuum(admin: ReturnType<typeof createPgPool>): Promise<boolean> {
  const setting = async (): Promise<string> => (await admin.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
  if ((await setting()) === 'on') return false;
  await admin.query('ALTER SYSTEM SET autovacuum = on');
  await admin.query('SELECT pg_reload_conf()');
  // The reload reaches each backend (this one too) at its next command, not at once.
  await waitUntil('PostgreSQL to report autovacuum on', 10_000, async () => (await setting()) === 'on');
  return true;
}
