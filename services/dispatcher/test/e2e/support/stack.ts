import request from 'supertest';
import { createLogger } from '@outbound/core';
import { SimulatedDevice, type DeviceBehaviour } from '@outbound/cli';
import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { createTestDatabase, deepMerge, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';
import type { RunningDispatcher } from '../../../src';
import { ADMIN_KEY, INTERNAL_TOKEN, SEND_KEY, as, startTestDispatcher } from '../../support/harness';

export const DEVICE_SECRET = 'e2e-device-secret-0123456789abcdef';

/**
 * The stores a stack can run on: Redis with the layout a dispatcher runs when none is set
 * (`redis`, the default: v3), with the v2 layout (`redis-v2`, as earlier releases wrote it), with
 * the v3 layout set explicitly (`redis-v3`), or PostgreSQL.
 */
export type StoreBackend = 'redis' | 'redis-v2' | 'redis-v3' | 'postgres';

/** QUEUE_BACKEND values every end-to-end file runs against (describe.each). */
export const BACKENDS = ['redis', 'postgres'] as const satisfies readonly StoreBackend[];

/**
 * Every store and Redis layout (`redis` runs v3, the default): for files whose subject is written by each store's own code
 * (the event log, read by timelines, the live stream and webhooks), not only the shared paths.
 */
export const ALL_STORES = ['redis', 'redis-v2', 'postgres'] as const satisfies readonly StoreBackend[];

/** Ingress settings for tests: free ports, HMAC auth, short heartbeats (liveness lapses in 2 s). */
export function testIngressSettings(redisUrl: string, prefix: string, replicaId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge(
    {
      logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
      replicaId,
      internalToken: INTERNAL_TOKEN,
      tcp: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      auth: { mode: 'hmac', secrets: [DEVICE_SECRET] },
      timing: { handshakeTimeoutMs: 5_000, errorLingerMs: 200 },
      registry: { prefix, heartbeatIntervalMs: 200, heartbeatTtlMs: 2_000 },
      redis: { url: redisUrl },
      drain: { graceMs: 3_000, reconnectSpreadMs: 500 },
    },
    overrides,
  );
}

export interface Stack {
  backend: StoreBackend;
  prefix: string;
  /** The store settings as environment variables, for dispatcher processes (spawnDispatcher). */
  env: Record<string, string>;
  ingresses: IngressHandle[];
  dispatchers: RunningDispatcher[];
  /** The first dispatcher: the API tests talk to. */
  api: RunningDispatcher;
  /** Connects a simulated device to ingress `replica` (default 0), with the derived key unless `key` is given; closed by stop(). */
  device(phyId: string, behaviour?: DeviceBehaviour & { key?: Buffer; result?: (id: string, payload: Buffer) => Buffer }, replica?: number): Promise<SimulatedDevice>;
  /** Enqueues through the public API; answers the command id. */
  enqueue(body: Record<string, unknown>): Promise<string>;
  get(id: string): Promise<Record<string, unknown> & { status: string; attempts: number }>;
  /** Waits until the command is in `status` (through the API). */
  waitStatus(id: string, status: string, timeoutMs?: number): Promise<Record<string, unknown> & { status: string; attempts: number }>;
  /**
   * Waits until every command is in `status`, polling one command at a time (through the API). One waitStatus per id
   * in Promise.all polled 60-100 commands every 20 ms, each GET a fresh supertest server: thousands of requests a
   * second on the event loop that also runs the services under test, which slowed delivery into ACK timeouts.
   */
  waitAllStatus(ids: readonly string[], status: string, timeoutMs?: number): Promise<void>;
  startDispatcher(overrides?: Record<string, unknown>): Promise<RunningDispatcher>;
  stop(): Promise<void>;
}

export const b64 = (text: string) => Buffer.from(text).toString('base64');

/**
 * `ingresses` in-process ingress replicas and `dispatchers` in-process dispatchers on one fresh
 * prefix, on real Redis (the layout by backend: `redis` the default, `redis-v2`, `redis-v3`) or (backend `postgres`) on a fresh PostgreSQL database of their own whose
 * schema `prefix` the services migrate at start-up, as in production.
 */
export async function startStack(
  redisUrl: string,
  options: { name: string; backend?: StoreBackend; ingresses?: number; dispatchers?: number; dispatcher?: Record<string, unknown>; ingress?: Record<string, unknown> },
): Promise<Stack> {
  const backend = options.backend ?? 'redis';
  const prefix = uniquePrefix(options.name);
  const ingresses: IngressHandle[] = [];
  const dispatchers: RunningDispatcher[] = [];
  const devices: SimulatedDevice[] = [];
  let database: TestDatabase | null = null;
  let ingressStore: Record<string, unknown> = {};
  let dispatcherStore: Record<string, unknown> = {};
  let env: Record<string, string> = { QUEUE_BACKEND: 'redis' };
  if (backend === 'postgres') {
    database = await createTestDatabase(options.name);
    ingressStore = { registry: { backend }, postgres: { url: database.url } };
    dispatcherStore = { queue: { backend }, postgres: { url: database.url } };
    env = { QUEUE_BACKEND: backend, DATABASE_URL: database.url };
  } else if (backend === 'redis-v2' || backend === 'redis-v3') {
    const layout = backend === 'redis-v2' ? 'v2' : 'v3';
    dispatcherStore = { queue: { redisLayout: layout } };
    env = { QUEUE_BACKEND: 'redis', QUEUE_REDIS_LAYOUT: layout };
  }
  for (let i = 0; i < (options.ingresses ?? 1); i += 1) {
    const overrides = deepMerge(ingressStore, options.ingress ?? {});
    const { config } = loadIngressConfig({ env: {}, overrides: testIngressSettings(redisUrl, prefix, `replica-${i}`, overrides) });
    ingresses.push(await startIngress(config, { logger: createLogger({ service: `ingress-${i}`, level: process.env.TEST_LOG_LEVEL ?? 'silent' }) }));
  }
  const startOne = async (overrides: Record<string, unknown> = {}) => {
    const d = await startTestDispatcher(redisUrl, deepMerge(deepMerge(dispatcherStore, options.dispatcher ?? {}), overrides), options.name, prefix);
    dispatchers.push(d);
    return d;
  };
  for (let i = 0; i < (options.dispatchers ?? 1); i += 1) await startOne();

  const stack: Stack = {
    backend,
    prefix,
    env,
    ingresses,
    dispatchers,
    get api() {
      return dispatchers[0]!;
    },
    async device(phyId, behaviour = {}, replica = 0) {
      const ingress = ingresses[replica]!;
      const device = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId, secret: DEVICE_SECRET, ...behaviour });
      devices.push(device);
      await device.connect();
      return device;
    },
    async enqueue(body) {
      const res = await request(stack.api.app).post('/v1/commands').set(as(SEND_KEY)).send(body);
      if (res.status !== 202) throw new Error(`enqueue answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },
    async get(id) {
      const res = await request(stack.api.app).get(`/v1/commands/${id}`).set(as(ADMIN_KEY));
      if (res.status !== 200) throw new Error(`GET answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async waitStatus(id, status, timeoutMs = 10_000) {
      return waitFor(async () => {
        const c = await stack.get(id);
        return c.status === status ? c : null;
      }, { timeoutMs, intervalMs: 20, what: `command ${id} to be ${status}` });
    },
    async waitAllStatus(ids, status, timeoutMs = 10_000) {
      const left = [...ids];
      let last: { id: string; status: string; attempts: number; lastError?: unknown } | null = null;
      try {
        await waitFor(async () => {
          while (left.length > 0) {
            const c = await stack.get(left[0]!);
            if (c.status !== status) {
              last = { id: left[0]!, status: c.status, attempts: c.attempts, lastError: c.lastError };
              return false;
            }
            left.shift();
          }
          return true;
        }, { timeoutMs, intervalMs: 20, what: `all ${ids.length} commands to be ${status}` });
      } catch (error) {
        throw new Error(`${(error as Error).message}: ${left.length} are not; the first of them: ${JSON.stringify(last)}`, { cause: error });
      }
    },
    startDispatcher: startOne,
    async stop() {
      await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
      await Promise.all(dispatchers.map((d) => d.stop()));
      await Promise.all(ingresses.map((i) => i.stop()));
      await database?.drop();
    },
  };
  return stack;
}
