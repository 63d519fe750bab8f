import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

export interface PostgresServerHandle {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust auth). */
  url: string;
  dataDir: string;
  /** The postmaster's pid while it runs. */
  pid(): number | undefined;
  /** SIGKILL of the postmaster and every backend at once, as a crash; resolves once all are gone (so it can start again). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory (crash recovery runs first). */
  restart(): Promise<void>;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL's binaries (Debian keeps them out of PATH), or PG_BIN_DIR. */
function binDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql/*/bin (set PG_BIN_DIR)');
  return join(root, versions[0]!, 'bin');
}

/** initdb and postgres refuse to run as root: as root they run as the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** True while the process (or, for a negative pid, any process of the group) exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A private PostgreSQL server on a free port, in a fresh data directory (trust auth, fsync off:
 * a test server, crash recovery still runs after a kill). For tests that kill and restart the
 * server; everything else uses the shared server through createTestDatabase.
 */
export async function startPostgresServer(): Promise<PostgresServerHandle> {
  const bin = binDir();
  const user = runAs();
  const dataDir = mkdtempSync(join(tmpdir(), 'outbound-pg-'));
  if (user) chownSync(dataDir, user.uid, user.gid);
  execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { stdio: 'ignore', ...user });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const proc = spawn(
      join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', dataDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=100'],
      // Its own process group, so kill() reaches the postmaster and every backend in one signal.
      { stdio: 'ignore', detached: true, ...user },
    );
    child = proc;
    let gone = false;
    exited = new Promise((resolve) => proc.once('exit', () => { gone = true; resolve(); }));
    await waitFor(async () => {
      if (gone) throw new Error(`postgres on port ${port} exited during start-up`);
      const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    }, { timeoutMs: 30_000, intervalMs: 50, what: `postgres on port ${port}` });
  };

  const kill = async (): Promise<void> => {
    const pid = child?.pid;
    if (pid === undefined || child?.exitCode !== null) return;
    // Every process of the server in one signal, as when its container or machine dies: backends
    // vanish mid-statement without a word to their clients. (Killed one by one, the survivors
    // say goodbye first, a FATAL 57P01/57P02, which pg hands to the query in flight.)
    process.kill(-pid, 'SIGKILL');
    await exited;
    await waitFor(() => !alive(-pid), { timeoutMs: 10_000, intervalMs: 20, what: 'every postgres process to exit' });
    child = null;
  };

  await start();
  return {
    port,
    url,
    dataDir,
    pid: () => child?.pid,
    kill,
    restart: start,
    async stop() {
      if (child && child.exitCode === null) {
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
