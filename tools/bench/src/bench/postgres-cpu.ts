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

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat after the command name (field 3 on), or null when it cannot be read. */
function procStat(pid: number): number[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  } catch {
    return null;
  }
}

/**
 * Reads the CPU of the whole PostgreSQL server the pool talks to (on this host): the postmaster,
 * every child process it has now (backends, WAL writer, checkpointer, autovacuum) and every child
 * that has ended since it started. Unlike backendCpuReader it also counts the work a backend
 * leaves to the WAL writer (a commit that does not wait for its flush). It counts other clients'
 * backends too, so it is exact only on a server of the run's own. The returned function answers
 * nanoseconds, NaN when the server is not on this host.
 */
export async function serverCpuReader(pool: PgPool): Promise<() => number> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const postmaster = procStat(rows[0]!.pid)?.[1]; // field 4: the parent
  if (postmaster === undefined) return () => NaN;
  return () => {
    const own = procStat(postmaster);
    if (!own) return NaN;
    // utime, stime, cutime, cstime: fields 14-17
    let ticks = own[11]! + own[12]! + own[13]! + own[14]!;
    let children: string[] = [];
    try {
      children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return NaN;
    }
    for (const child of children) {
      const stat = procStat(Number(child));
      if (stat) ticks += stat[11]! + stat[12]!;
    }
    return (ticks * 1e9) / TICKS_PER_SECOND;
  };
}
