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
 */
export async function freshPgDatabase(database: string): Promise<{ url: string; drop(): Promise<void> }> {
  const adminUrl = benchPgAdminUrl();
  const admin = createPgPool({ url: adminUrl, max: 1, applicationName: 'outbound-bench' });
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    async drop() {
      const client = createPgPool({ url: adminUrl, max: 1, applicationName: 'outbound-bench' });
      try {
        await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
