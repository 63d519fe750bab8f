import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** The repository root, from tools/bench/dist/bench (compiled) or tools/bench/src/bench (ts-node, jest). */
export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');

/** A free TCP port on 127.0.0.1 (the bench never listens anywhere else). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 50 ms until it answers something truthy; throws naming `what` after `timeoutMs`. */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(50);
  }
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

/** The soft open-files limit of a process (children inherit ours unless raised, which needs CAP_SYS_RESOURCE above the hard limit). */
export function openFilesLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/);
  const num = (v: string | undefined) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: num(soft), hard: num(hard) };
}

/**
 * Every process a bench section starts, so each section can stop exactly what it started
 * (by pid, never by name) and nothing outlives the bench, even when it throws or is interrupted.
 */
export class ChildGroup {
  private readonly children = new Map<string, ChildProcess>();
  private readonly killAll = (): void => {
    for (const child of this.children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  constructor() {
    process.once('exit', this.killAll);
  }

  /** Starts a process; its stderr is kept (last 4 KB) so a failed start can say why. */
  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
    let tail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    });
    child.once('exit', (code, signal) => {
      if (this.children.get(name) === child && code !== 0 && signal === null) {
        process.stderr.write(`bench: ${name} exited with code ${code}${tail ? `:\n${tail}` : ''}\n`);
      }
    });
    this.children.set(name, child);
    return child;
  }

  /** Starts a Node script with IPC, so a bench worker can report to the parent. */
  spawnNode(name: string, script: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ChildProcess {
    // BENCH_CHILD_LOGS=1 shows the services' own (pino) logs, for finding out why a run stalls.
    const stdout = process.env.BENCH_CHILD_LOGS === '1' ? 'inherit' : 'ignore';
    return this.spawn(name, process.execPath, [...nodeArgs, script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', stdout, 'pipe', 'ipc'],
    });
  }

  get(name: string): ChildProcess | undefined {
    return this.children.get(name);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(name: string, graceMs = 5_000): Promise<void> {
    const child = this.children.get(name);
    if (!child) return;
    this.children.delete(name);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every process, newest first (devices before ingress before the stores). */
  async stopAll(graceMs = 5_000): Promise<void> {
    for (const name of [...this.children.keys()].reverse()) await this.stop(name, graceMs);
    process.removeListener('exit', this.killAll);
  }
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds of every process whose command name (/proc/<pid>/comm) is `comm`, summed (e.g. all PostgreSQL backends). */
export function cpuSecondsOfCommand(comm: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
    } catch {
      continue; // gone meanwhile
    }
    const seconds = cpuSeconds(Number(entry));
    if (!Number.isNaN(seconds)) total += seconds;
  }
  return total;
}

/** The fields of /proc/<pid>/stat after the command name (the first is the state, field 3), or null when it is gone. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

function commandName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The postmaster of a PostgreSQL backend (pg_backend_pid()) when the server runs on this host,
 * else null (a remote server's pid may name an unrelated process here: both must be postgres).
 */
export function localPostmaster(backendPid: number): number | null {
  const fields = commandName(backendPid) === 'postgres' ? statFields(backendPid) : null;
  const parent = fields ? Number(fields[1]) : null;
  return parent !== null && commandName(parent) === 'postgres' ? parent : null;
}

/**
 * CPU seconds of a process and of every child it started, ended ones included: its own time,
 * what its children that ended and were reaped used (cutime, cstime), and what its live children
 * used so far. For a PostgreSQL postmaster: the whole server (every backend, autovacuum, the WAL
 * writer), however many connections came and went, and nothing of another server on the host.
 */
export function cpuSecondsOfTree(pid: number): number {
  const root = statFields(pid);
  if (!root) return NaN;
  let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields && Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

/**
 * CPU use of named processes over a stretch of time, as a share of one core. `trees` names
 * process trees by their root (label → pid, cpuSecondsOfTree), e.g. a PostgreSQL server by its
 * postmaster. `commands` names
 * groups of processes by command name (label → comm), e.g. `{ postgres: 'postgres' }` for the
 * database server's processes, which the bench did not start (a backend that exits meanwhile
 * takes its time with it: pooled connections stay for the run).
 */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private startedAt = 0;

  constructor(
    private readonly pids: Record<string, number>,
    private readonly commands: Record<string, string> = {},
    private readonly trees: Record<string, number> = {},
  ) {}

  begin(): void {
    this.startedAt = Date.now();
    for (const [name, seconds] of this.read()) this.start.set(name, seconds);
  }

  /** name → CPU seconds used since begin() (user + system). */
  seconds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, seconds] of this.read()) out[name] = seconds - this.start.get(name)!;
    return out;
  }

  /** name → cores used (1.0 = one core busy all the time). */
  end(): Record<string, number> {
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const out: Record<string, number> = {};
    for (const [name, seconds] of this.read()) out[name] = Math.round(((seconds - this.start.get(name)!) / elapsed) * 100) / 100;
    return out;
  }

  private read(): Array<[string, number]> {
    return [
      ...Object.entries(this.pids).map(([name, pid]): [string, number] => [name, cpuSeconds(pid)]),
      ...Object.entries(this.commands).map(([name, comm]): [string, number] => [name, cpuSecondsOfCommand(comm)]),
      ...Object.entries(this.trees).map(([name, pid]): [string, number] => [name, cpuSecondsOfTree(pid)]),
    ];
  }
}
