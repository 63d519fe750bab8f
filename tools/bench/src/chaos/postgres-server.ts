import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createPgPool } from '@outbound/core';
import { freePort, sleep, waitUntil, type ChildGroup } from '../bench/child-processes';

/** A private PostgreSQL server the fault suite may kill: its own data directory and port. */
export interface ChaosPostgres {
  /** URL of the `postgres` database (for CREATE DATABASE). */
  adminUrl: string;
  port: number;
  pid: number;
  /** SIGKILL of the postmaster (its backends notice and exit). */
  kill(): void;
  /** Starts the server again on the same port and data directory (crash recovery runs). */
  restart(): Promise<void>;
  /** Stops it and removes the data directory. */
  stop(): Promise<void>;
  /** A URL for database `name` on this server. */
  urlFor(name: string): string;
}

/** The newest PostgreSQL server binaries: PG_BIN_DIR, else the highest /usr/lib/postgresql/<n>/bin. */
function binDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (!versions.length) throw new Error('chaos: no PostgreSQL server binaries (set PG_BIN_DIR or install postgresql)');
  return join(base, versions[0]!, 'bin');
}

/** initdb and postgres refuse to run as root: run them as the `postgres` account then. */
function runAs(): { uid?: number; gid?: number } {
  if (userInfo().uid !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/**
 * initdb in a temporary directory and a postmaster on a free port of 127.0.0.1 (trust auth,
 * fsync off: the suite kills the process, never the machine, so the page cache survives).
 */
export async function startChaosPostgres(group: ChildGroup, name: string): Promise<ChaosPostgres> {
  const bin = binDir();
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'outbound-chaos-pg-'));
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  execFileSync(join(bin, 'initdb'), ['-D', dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { stdio: 'ignore', ...user });
  const port = await freePort();
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let pid = 0;

  const spawnServer = async (): Promise<void> => {
    const child = group.spawn(name, join(bin, 'postgres'), [
      '-D', dir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
      '-c', 'max_connections=300', '-c', 'shared_buffers=64MB',
    ], user);
    pid = child.pid!;
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitUntil(`${name} on port ${port}`, 30_000, async () => {
      if (exited) throw new Error(`${name} exited during start-up`);
      const pool = createPgPool({ url: adminUrl, max: 1, applicationName: 'outbound-chaos' });
      pool.on('error', () => undefined);
      try {
        return (await pool.query('SELECT 1 AS ok')).rows.length === 1;
      } finally {
        await pool.end().catch(() => undefined);
      }
    });
  };
  await spawnServer();

  return {
    adminUrl,
    port,
    get pid() {
      return pid;
    },
    kill() {
      group.get(name)?.kill('SIGKILL');
    },
    async restart() {
      // The killed postmaster's backends exit when they notice; until then the shared memory
      // is in use and a new postmaster refuses to start, so try again for a while.
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await spawnServer();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await sleep(500);
        }
      }
    },
    async stop() {
      await group.stop(name, 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
    urlFor(database: string) {
      return `postgres://postgres@127.0.0.1:${port}/${database}`;
    },
  };
}
