import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort } from './free-port';
import { waitFor } from './wait-for';

export interface RedisServerHandle {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** SHUTDOWN NOSAVE and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/**
 * Starts a private redis-server on a free port (no persistence unless `args` say so).
 * Used by tests that kill, restart or fill a server, and by the global setup.
 */
export async function startRedisServer(args: string[] = [], port?: number): Promise<RedisServerHandle> {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), `outbound-redis-${chosen}-`));
  const child = spawn(
    REDIS_BIN,
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...args],
    { stdio: 'ignore' },
  );
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  await waitFor(async () => {
    if (exited) throw new Error(`redis-server on port ${chosen} exited during start-up`);
    return ping(chosen);
  }, { timeoutMs: 15_000, intervalMs: 50, what: `redis-server on port ${chosen}` });

  const handle: RedisServerHandle = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    dir,
    process: child,
    async stop() {
      if (!exited) {
        try {
          execFileSync('redis-cli', ['-p', String(chosen), 'shutdown', 'nosave'], { stdio: 'ignore' });
        } catch {
          child.kill('SIGKILL');
        }
        await exitPromise;
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (!exited) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    },
  };
  return handle;
}

/** One inline PING over a raw socket: no client library, nothing left behind when it fails. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
