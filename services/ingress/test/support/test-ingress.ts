import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { createLogger } from '@outbound/core';
import { deepMerge, testRedisUrl } from '@outbound/test-support';

/** Fleet secrets are at least 32 bytes (the config refuses shorter ones). */
export const SECRET = 'test-fleet-secret-1-0123456789abcdef';
export const OLD_SECRET = 'test-fleet-secret-0-0123456789abcdef';
export const TOKEN = 'internal-test-token';

/** An in-process ingress on free ports with short timeouts; `overrides` use the config's key paths. */
export async function startTestIngress(prefix: string, overrides: Record<string, unknown> = {}): Promise<IngressHandle> {
  const { config } = loadIngressConfig({
    env: {},
    overrides: deepMerge(
      {
        internalToken: TOKEN,
        tcp: { host: '127.0.0.1', port: 0 },
        http: { host: '127.0.0.1', port: 0 },
        auth: { mode: 'hmac', secrets: [OLD_SECRET, SECRET] },
        timing: { handshakeTimeoutMs: 5_000, errorLingerMs: 500 },
        registry: { prefix, heartbeatIntervalMs: 200, heartbeatTtlMs: 2_000 },
        redis: { url: testRedisUrl() },
        drain: { graceMs: 5_000, reconnectSpreadMs: 1_000 },
      },
      overrides,
    ),
  });
  return startIngress(config, { logger: createLogger({ service: 'ingress-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
}
