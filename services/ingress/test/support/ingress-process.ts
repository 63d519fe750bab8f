import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, listeningPorts, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';

const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');
const MEASURED = join(__dirname, 'measured-ingress.js');

/** The built ingress (`node services/ingress/dist/main.js`) as its own process. */
export interface IngressProcess {
  child: ChildProcess;
  tcpPort: number;
  base: string;
  /** Everything it logged (pino JSON lines on stdout). */
  log: string[];
  /** Resident set size of the process now, bytes (from /proc). */
  rssBytes(): number;
  /** After a full garbage collection: JS heap used plus memory outside it (buffers), bytes. Needs `measured`. */
  retainedBytes(): Promise<{ heapUsed: number; external: number; rss: number }>;
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the built ingress and waits until it listens on both of its ports and /readyz answers
 * 200. The ports are chosen free before the start, so another process of the test run can take
 * one first: an ingress that lost a port is started again on others. `ulimitFiles` runs it
 * under `ulimit -n` (through sh, which execs node: same pid), as an operator's service manager would.
 */
export async function startIngressProcess(env: Record<string, string>, options: { ulimitFiles?: number; measured?: boolean } = {}): Promise<IngressProcess> {
  // A port another process's outgoing connection holds can still look free to a bind on port 0
  // (the kernel hands it out again), but listen() on it fails: ports that failed are not tried again.
  const refused = new Set<number>();
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce(env, options, refused);
    if (started !== 'port taken') return started;
    if (attempt === 5) throw new Error('ingress process: free ports were taken by others five times before it could listen');
  }
}

async function portNotIn(refused: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!refused.has(port)) return port;
  }
}

async function startOnce(env: Record<string, string>, options: { ulimitFiles?: number; measured?: boolean }, refused: Set<number>): Promise<IngressProcess | 'port taken'> {
  const [tcpPort, httpPort] = [await portNotIn(refused), await portNotIn(refused)];
  const fullEnv = {
    PATH: process.env.PATH,
    REDIS_URL: testRedisUrl(),
    REGISTRY_PREFIX: uniquePrefix('ingress-proc'),
    INGRESS_TCP_HOST: '127.0.0.1',
    INGRESS_TCP_PORT: String(tcpPort),
    INGRESS_HTTP_HOST: '127.0.0.1',
    INGRESS_HTTP_PORT: String(httpPort),
    DEVICE_AUTH_SECRETS: 'ingress-process-fleet-secret-0123456789',
    INTERNAL_TOKEN: 'ingress-process-internal-token',
    INGRESS_SHUTDOWN_GRACE_MS: '3000',
    LOG_LEVEL: 'info',
    ...env,
  };
  const child = options.ulimitFiles
    ? spawn('sh', ['-c', `ulimit -n ${options.ulimitFiles} && exec "$0" "$1"`, process.execPath, MAIN], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    : options.measured
      ? spawn(process.execPath, ['--expose-gc', MEASURED], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
      : spawn(process.execPath, [MAIN], { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      log.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  // Shown as before (the test run's stderr), and kept to tell a lost port from other failures.
  let errors = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
    process.stderr.write(chunk);
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const outcome = await waitFor(async () => {
    if (child.exitCode !== null) {
      if (errors.includes('EADDRINUSE') || log.some((l) => l.includes('EADDRINUSE'))) return 'port taken';
      throw new Error(`ingress exited with ${child.exitCode}: ${log.join('\n')}${errors}`);
    }
    const listening = listeningPorts(child.pid!);
    if (!listening.has(tcpPort) || !listening.has(httpPort)) return null;
    return (await fetch(`${base}/readyz`)).status === 200 ? 'ready' : null;
  }, { timeoutMs: 15_000, what: 'the ingress process to be ready' });
  if (outcome === 'port taken') {
    refused.add(tcpPort).add(httpPort);
    return outcome;
  }
  return {
    child,
    tcpPort,
    base,
    log,
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    retainedBytes() {
      return new Promise((resolve) => {
        child.once('message', (usage: NodeJS.MemoryUsage) => resolve({ heapUsed: usage.heapUsed, external: usage.external, rss: usage.rss }));
        child.send('measure');
      });
    },
    async metric(name: string) {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      if (!line) throw new Error(`no metric ${name}`);
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
