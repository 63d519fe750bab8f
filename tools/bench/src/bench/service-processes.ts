import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, REPO_ROOT, waitUntil, type ChildGroup } from './child-processes';
import { anyListensOn, listeningPorts } from './listening-ports';

/** The queue store an end-to-end run uses (QUEUE_BACKEND). */
export type Backend = 'redis' | 'postgres';

/** Shared secrets of one bench stack; never used outside 127.0.0.1. */
export const BENCH_SECRETS = { deviceSecret: 'bench-device-secret-0123456789abcdef', internalToken: 'bench-internal-token', apiKey: 'bench-api-key-0123456789' } as const;

export interface StoreUrls {
  backend: Backend;
  redisUrl: string;
  /** PostgreSQL database URL (backend postgres). */
  pgUrl?: string;
  /** Queue prefix (Redis) or schema (PostgreSQL), and the route registry prefix. */
  prefix: string;
}

/** Extra node flags per service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` (the profile is written when the process exits on SIGTERM). */
export interface NodeFlags {
  ingress?: string[];
  dispatcher?: string[];
}

function storeEnv(stores: StoreUrls): NodeJS.ProcessEnv {
  return {
    REDIS_URL: stores.redisUrl,
    QUEUE_BACKEND: stores.backend,
    QUEUE_PREFIX: stores.prefix,
    REGISTRY_PREFIX: stores.prefix,
    // Operators set DATABASE_URL; the dispatcher's convict schema reads PG_URL. Both point at the bench database.
    ...(stores.pgUrl ? { PG_URL: stores.pgUrl, DATABASE_URL: stores.pgUrl } : {}),
    LOG_LEVEL: 'warn',
  };
}

/**
 * Starts a service on ports chosen free just before (`spawnOn` gets them); another process can take
 * one of them before the child binds it. Ready means the child itself listens on every one of its
 * ports and answers `readyPath` on the first with 200; a child that exits because one was taken
 * starts again on other ports (three tries), and one that exits for any other reason fails the
 * start at once.
 */
export async function startOnFreePorts(
  what: string, portCount: number, spawnOn: (ports: number[]) => ChildProcess, timeoutMs: number, readyPath = '/readyz',
): Promise<{ child: ChildProcess; ports: number[] }> {
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    for (let i = 0; i < portCount; i++) ports.push(await freePort());
    const child = spawnOn(ports);
    const outcome = await waitUntil(`${what} ${readyPath}`, timeoutMs, async () => {
      if (child.exitCode !== null || child.signalCode !== null) return ports.some(anyListensOn) ? 'port taken' : 'exited';
      const own = listeningPorts(child.pid!);
      if (!ports.every((port) => own.has(port))) return null;
      const res = await fetch(`http://127.0.0.1:${ports[0]}${readyPath}`).catch(() => null);
      return res?.status === 200 ? 'ready' : null;
    });
    if (outcome === 'ready') return { child, ports };
    if (outcome === 'exited') throw new Error(`${what} exited with code ${child.exitCode ?? child.signalCode} before it was ready`);
    if (attempt === 3) throw new Error(`${what}: its free ports were taken by other processes three times before it could listen`);
  }
}

export interface RunningIngress {
  pid: number;
  tcpPort: number;
  httpUrl: string;
}

/**
 * Starts the built ingress (services/ingress/dist/main.js) as its own process, bound to 127.0.0.1;
 * `root`: the built tree it comes from (another checkout, to compare builds).
 */
export async function startIngressProcess(
  group: ChildGroup, name: string, stores: StoreUrls, extra: NodeJS.ProcessEnv = {}, nodeArgs: string[] = [], readyTimeoutMs = 30_000, root = REPO_ROOT,
): Promise<RunningIngress> {
  const { child, ports: [httpPort, tcpPort] } = await startOnFreePorts(name, 2, ([httpPort, tcpPort]) => group.spawnNode(name, join(root, 'services', 'ingress', 'dist', 'main.js'), [], {
    ...storeEnv(stores),
    INGRESS_TCP_HOST: '127.0.0.1',
    INGRESS_TCP_PORT: String(tcpPort),
    INGRESS_HTTP_HOST: '127.0.0.1',
    INGRESS_HTTP_PORT: String(httpPort),
    DEVICE_AUTH_SECRETS: BENCH_SECRETS.deviceSecret,
    // The whole simulated fleet connects from 127.0.0.1: no per-address handshake limit.
    INGRESS_HANDSHAKES_PER_IP: '0',
    INTERNAL_TOKEN: BENCH_SECRETS.internalToken,
    INGRESS_REPLICA_ID: `${name}-${process.pid}`,
    ...extra,
  }, nodeArgs), readyTimeoutMs);
  return { pid: child.pid!, tcpPort: tcpPort!, httpUrl: `http://127.0.0.1:${httpPort}` };
}

export interface RunningDispatcher {
  pid: number;
  apiUrl: string;
}

/**
 * Starts the built dispatcher (services/dispatcher/dist/main.js) as its own process, bound to 127.0.0.1;
 * `repoRoot` names another built tree to run instead of this one (to compare two builds in one run).
 */
export async function startDispatcherProcess(
  group: ChildGroup, name: string, stores: StoreUrls, extra: NodeJS.ProcessEnv = {}, nodeArgs: string[] = [], readyTimeoutMs = 30_000, repoRoot = REPO_ROOT,
): Promise<RunningDispatcher> {
  const { child, ports: [httpPort] } = await startOnFreePorts(name, 1, ([httpPort]) => group.spawnNode(name, join(repoRoot, 'services', 'dispatcher', 'dist', 'main.js'), [], {
    ...storeEnv(stores),
    DISPATCHER_HTTP_HOST: '127.0.0.1',
    DISPATCHER_HTTP_PORT: String(httpPort),
    API_KEYS: `${BENCH_SECRETS.apiKey}:admin`,
    INTERNAL_TOKEN: BENCH_SECRETS.internalToken,
    // The saturation step keeps up to ~25 commands per device queued; the default cap (1,000) is far above that, raised anyway so a slow run never answers 429.
    QUEUE_PER_DEVICE_CAP: '100000',
    // The benchmark measures throughput: the per-key rate limit is off.
    API_RATE_LIMIT_SEND: '0',
    API_RATE_LIMIT_ADMIN: '0',
    ...extra,
  }, nodeArgs), readyTimeoutMs);
  return { pid: child.pid!, apiUrl: `http://127.0.0.1:${httpPort}` };
}

/** Reads one sample (sum over label sets) from a Prometheus text endpoint. */
export async function readMetric(baseUrl: string, name: string, labelFilter = ''): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labelFilter && !line.includes(labelFilter)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
