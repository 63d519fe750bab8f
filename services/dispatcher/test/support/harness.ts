import { uniquePrefix } from '@outbound/test-support';
import { loadDispatcherConfig, startDispatcher, type RunningDispatcher } from '../../src';

export const SEND_KEY = 'send-key-0123456789';
export const ADMIN_KEY = 'admin-key-0123456789';
export const INTERNAL_TOKEN = 'internal-token-for-tests';

/** Auth headers for a role. */
export const as = (key: string) => ({ Authorization: `Bearer ${key}` });

/**
 * Starts a dispatcher on a free port against `redisUrl` with a fresh key prefix. Short leases
 * and intervals keep end-to-end tests fast; `overrides` use the config's dotted keys' nesting.
 */
export async function startTestDispatcher(
  redisUrl: string,
  overrides: Record<string, unknown> = {},
  name = 'dispatcher',
): Promise<RunningDispatcher> {
  const prefix = (overrides.prefix as string | undefined) ?? uniquePrefix(name);
  const { prefix: _ignored, worker, queue, registry, ...rest } = overrides as Record<string, Record<string, unknown> | undefined>;
  const { config } = loadDispatcherConfig({
    env: {},
    overrides: {
      logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
      http: { host: '127.0.0.1', port: 0 },
      apiKeys: [`${SEND_KEY}:send`, `${ADMIN_KEY}:admin`],
      internalToken: INTERNAL_TOKEN,
      redis: { url: redisUrl, commandTimeoutMs: 2_000, connectTimeoutMs: 1_000 },
      queue: { prefix, backoffBaseMs: 100, backoffMaxMs: 400, ...queue },
      registry: { prefix, ...registry },
      worker: { leaseMs: 3_000, leaseMarginMs: 1_000, reapIntervalMs: 200, parkedCheckMs: 500, idleWaitMs: 500, ...worker },
      shutdown: { graceMs: 2_000 },
      ...rest,
    },
  });
  return startDispatcher(config);
}
