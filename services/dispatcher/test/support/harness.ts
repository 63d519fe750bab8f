import { deepMerge, uniquePrefix } from '@outbound/test-support';
import { loadDispatcherConfig, startDispatcher, type RunningDispatcher } from '../../src';

export const SEND_KEY = 'send-key-0123456789';
export const ADMIN_KEY = 'admin-key-0123456789';
export const INTERNAL_TOKEN = 'internal-token-for-tests';

/** Auth headers for a role. */
export const as = (key: string) => ({ Authorization: `Bearer ${key}` });

/** Test settings: short leases and intervals keep end-to-end tests fast. `prefix` sets queue and registry prefix together. */
export function testDispatcherSettings(redisUrl: string, prefix: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return deepMerge(
    {
      logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
      http: { host: '127.0.0.1', port: 0 },
      apiKeys: [`${SEND_KEY}:send`, `${ADMIN_KEY}:admin`],
      internalToken: INTERNAL_TOKEN,
      redis: { url: redisUrl, commandTimeoutMs: 2_000, connectTimeoutMs: 1_000 },
      queue: { prefix, backoffBaseMs: 100, backoffMaxMs: 400 },
      registry: { prefix },
      worker: { leaseMs: 3_000, leaseMarginMs: 1_000, reapIntervalMs: 200, parkedCheckMs: 500, idleWaitMs: 500 },
      liveness: { intervalMs: 200, ttlMs: 2_000 },
      shutdown: { graceMs: 2_000 },
    },
    overrides,
  );
}

/** Starts a dispatcher in this process on a free port against `redisUrl`. */
export async function startTestDispatcher(
  redisUrl: string,
  overrides: Record<string, unknown> = {},
  name = 'dispatcher',
  prefix = uniquePrefix(name),
): Promise<RunningDispatcher> {
  // Dispatchers in one test process share hostname and pid: each gets an id of its own.
  const settings = testDispatcherSettings(redisUrl, prefix, deepMerge({ liveness: { id: uniquePrefix(name) } }, overrides));
  const { config } = loadDispatcherConfig({ env: {}, overrides: settings });
  return startDispatcher(config);
}
