import { readFileSync } from 'node:fs';
import type { createPgPool } from '@outbound/core';

type PgPool = ReturnType<typeof createPgPool>;

/**
 * Nanoseconds one PostgreSQL server process has spent on CPU (/proc/<pid>/schedstat): NaN when
 * this host cannot see it (the server runs elsewhere, or the backend has ended). Unlike a rate,
 * it hardly moves with what else the host is doing.
 */
export function backendCpuNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/** The server processes serving the connections named `applicationName` now. */
export async function backendPids(pool: PgPool, applicationName: string): Promise<number[]> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
  return rows.map((r) => r.pid);
}

/**
 * Reads the CPU of the backends serving `applicationName` (open the pool's connections first):
 * the returned function sums their nanoseconds on CPU, NaN when one cannot be read.
 */
export async function backendCpuReader(pool: PgPool, applicationName: string): Promise<() => number> {
  const pids = await backendPids(pool, applicationName);
  return () => pids.reduce((sum, pid) => sum + backendCpuNs(pid), 0);
}
