import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, listeningPorts, waitFor } from '@outbound/test-support';
import { ADMIN_KEY, INTERNAL_TOKEN, SEND_KEY } from '../../support/harness';

const MAIN = join(__dirname, '..', '..', '..', 'dist', 'main.js');

export interface DispatcherProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string | null>;
}

/**
 * Runs `node services/dispatcher/dist/main.js` as its own process (for crashes), configured
 * through the environment like production. The port is chosen free before the start, so another
 * process of the test run can take it first: ready means this child listens on it and answers
 * /readyz, and a child that lost its port is started again on another.
 */
export async function spawnDispatcher(redisUrl: string, prefix: string, env: Record<string, string> = {}): Promise<DispatcherProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does)`);
  for (let attempt = 1; ; attempt++) {
    const started = await spawnOnce(redisUrl, prefix, env);
    if (started !== 'port taken') return started;
    if (attempt === 3) throw new Error('dispatcher process: three free ports were taken by others before it could listen');
  }
}

async function spawnOnce(redisUrl: string, prefix: string, env: Record<string, string>): Promise<DispatcherProcess | 'port taken'> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: prefix,
      REGISTRY_PREFIX: prefix,
      API_KEYS: `${SEND_KEY}:send,${ADMIN_KEY}:admin`,
      INTERNAL_TOKEN,
      DISPATCHER_HTTP_HOST: '127.0.0.1',
      DISPATCHER_HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    const outcome = await waitFor(async () => {
      if (child.exitCode !== null) {
        if (output.includes('EADDRINUSE')) return 'port taken';
        throw new Error(`dispatcher exited during start-up: ${output}`);
      }
      if (!listeningPorts(child.pid!).has(port)) return null;
      const res = await fetch(`${url}/readyz`).catch(() => null);
      return res?.status === 200 ? 'ready' : null;
    }, { timeoutMs: 30_000, intervalMs: 50, what: `dispatcher process on ${port} to be ready` });
    if (outcome === 'port taken') return outcome;
  } catch (error) {
    // Not handed to the caller: stop it here, or it outlives the test run.
    child.kill('SIGKILL');
    throw error;
  }
  return { child, url, output: () => output, exited };
}
