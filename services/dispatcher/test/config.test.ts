import { ConfigError } from '@outbound/core';
import { apiKeyLimits } from '../src/config';
import { loadDispatcherConfig, parseApiKeys } from '../src';

const k1 = 'send-key-0123456789ab';
const k2 = 'admin-key-0123456789ab';
const token = 'internal-token-0123456789';

describe('dispatcher configuration', () => {
  it('reads the documented environment names', () => {
    const { config, redacted } = loadDispatcherConfig({
      env: { DISPATCHER_HTTP_PORT: '9090', API_KEYS: `${k1}:send, ${k2}:admin`, INTERNAL_TOKEN: token, REDIS_URL: 'redis://10.0.0.1:6380', QUEUE_SHARDS: '8', LOG_LEVEL: 'warn' },
    });
    expect(config.http.port).toBe(9090);
    expect(config.queue.shards).toBe(8);
    expect(config.logLevel).toBe('warn');
    expect(parseApiKeys(config.apiKeys)).toEqual(new Map([[k1, 'send'], [k2, 'admin']]));
    // Secrets never reach the logged configuration.
    for (const secret of [k1, k2, token, '10.0.0.1']) expect(JSON.stringify(redacted)).not.toContain(secret);
  });

  it('stops with one line per problem naming the key and the value', () => {
    let error: unknown;
    try {
      loadDispatcherConfig({ env: { API_KEYS: 'k1:root', DISPATCHER_HTTP_PORT: 'eighty', QUEUE_BACKEND: 'mongo' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/apiKeys/);
    expect(problems).toMatch(/http\.port/);
    expect(problems).toMatch(/queue\.backend/);
  });

  it('reads the enqueue memory high-water mark as a share of maxmemory, 0.9 by default', () => {
    const env = { INTERNAL_TOKEN: token };
    expect(loadDispatcherConfig({ env }).config.queue.admissionMaxMemoryRatio).toBe(0.9);
    expect(loadDispatcherConfig({ env: { ...env, QUEUE_ADMISSION_MAX_MEMORY_RATIO: '0.75' } }).config.queue.admissionMaxMemoryRatio).toBe(0.75);
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_ADMISSION_MAX_MEMORY_RATIO: '1.5' } })).toThrow(/queue\.admissionMaxMemoryRatio/);
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_ADMISSION_MAX_MEMORY_RATIO: 'most' } })).toThrow(/queue\.admissionMaxMemoryRatio/);
  });

  it('runs the backend\'s own number of enqueue calls at once unless one is set: 4 on Redis, 1 on PostgreSQL', () => {
    const env = { INTERNAL_TOKEN: token };
    const pg = { ...env, QUEUE_BACKEND: 'postgres', DATABASE_URL: 'postgres://db.example:5432/outbound' };
    expect(loadDispatcherConfig({ env }).config.api.enqueueConcurrency).toBe(4);
    expect(loadDispatcherConfig({ env: pg }).config.api.enqueueConcurrency).toBe(1);
    expect(loadDispatcherConfig({ env: { ...pg, DISPATCHER_ENQUEUE_CONCURRENCY: '3' } }).config.api.enqueueConcurrency).toBe(3);
    expect(loadDispatcherConfig({ env: { ...env, DISPATCHER_ENQUEUE_CONCURRENCY: '2' } }).config.api.enqueueConcurrency).toBe(2);
    const { config, redacted } = loadDispatcherConfig({ env: { ...pg, DISPATCHER_ID: 'd1' } });
    expect(config.liveness.id).toBe('d1');
    expect(Object.isFrozen(config.api)).toBe(true);
    expect((redacted.api as { enqueueConcurrency: number }).enqueueConcurrency).toBe(1);
  });

  it('reads the Redis record layout, v3 by default, and refuses another', () => {
    const env = { INTERNAL_TOKEN: token };
    expect(loadDispatcherConfig({ env }).config.queue).toMatchObject({ redisLayout: 'v3', keepFinishedPayload: false });
    expect(loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v2' } }).config.queue).toMatchObject({ redisLayout: 'v2' });
    expect(loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_KEEP_FINISHED_PAYLOAD: 'true' } }).config.queue).toMatchObject({ redisLayout: 'v3', keepFinishedPayload: true });
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v4' } })).toThrow(/queue\.redisLayout/);
  });

  it('reads what of the v2 layout a v3 dispatcher delivers (QUEUE_REDIS_UPGRADE_FROM), auto by default; v2 only on Redis and away from v2', () => {
    const env = { INTERNAL_TOKEN: token };
    expect(loadDispatcherConfig({ env }).config.queue.redisUpgradeFrom).toBe('auto');
    expect(loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_UPGRADE_FROM: 'none' } }).config.queue.redisUpgradeFrom).toBe('none');
    expect(loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_REDIS_UPGRADE_FROM: 'v2' } }).config.queue).toMatchObject({ redisLayout: 'v3', redisUpgradeFrom: 'v2' });
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v2', QUEUE_REDIS_UPGRADE_FROM: 'v2' } })).toThrow(/queue\.redisUpgradeFrom: QUEUE_REDIS_UPGRADE_FROM=v2 needs .*layout v2/);
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_REDIS_UPGRADE_FROM: 'v1' } })).toThrow(/queue\.redisUpgradeFrom/);
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_UPGRADE_FROM: '' } })).toThrow(/queue\.redisUpgradeFrom/);
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_BACKEND: 'postgres', DATABASE_URL: 'postgres://x@127.0.0.1/db', QUEUE_REDIS_LAYOUT: 'v3', QUEUE_REDIS_UPGRADE_FROM: 'v2' } })).toThrow(/backend postgres/);
  });

  it('reads the finished records\' byte budget (QUEUE_RETENTION_MAX_BYTES), 0 by default, only on the Redis v3 layout', () => {
    const env = { INTERNAL_TOKEN: token };
    expect(loadDispatcherConfig({ env }).config.queue.retentionMaxBytes).toBe(0);
    expect(loadDispatcherConfig({ env }).config.worker.trimIntervalMs).toBe(10_000);
    const v3 = { ...env, QUEUE_REDIS_LAYOUT: 'v3', QUEUE_RETENTION_MAX_BYTES: '1000000000', DISPATCHER_TRIM_INTERVAL_MS: '5000' };
    expect(loadDispatcherConfig({ env: v3 }).config).toMatchObject({ queue: { retentionMaxBytes: 1e9 }, worker: { trimIntervalMs: 5_000 } });
    expect(() => loadDispatcherConfig({ env: { ...env, QUEUE_REDIS_LAYOUT: 'v2', QUEUE_RETENTION_MAX_BYTES: '1000' } })).toThrow(/queue\.retentionMaxBytes: QUEUE_RETENTION_MAX_BYTES needs .*layout v2/);
    expect(() => loadDispatcherConfig({ env: { ...v3, QUEUE_RETENTION_MAX_BYTES: 'lots' } })).toThrow(/queue\.retentionMaxBytes/);
    expect(() => loadDispatcherConfig({ env: { ...v3, DISPATCHER_TRIM_INTERVAL_MS: '0' } })).toThrow(/worker\.trimIntervalMs/);
  });

  it('refuses a lease no longer than its margin', () => {
    expect(() => loadDispatcherConfig({ env: { INTERNAL_TOKEN: token, DISPATCHER_LEASE_MS: '1000', DISPATCHER_LEASE_MARGIN_MS: '1000' } })).toThrow(/worker\.leaseMs/);
  });

  it('refuses to start with an API key or the internal token under 16 characters, naming the key, never the value', () => {
    const problems = problemsOf({ API_KEYS: `a:admin,${k1}:send,short-key:send`, INTERNAL_TOKEN: 'x' });
    expect(problems).toEqual([
      'apiKeys: API_KEYS entry 1 (role admin) must be at least 16 characters (it has 1); generate one with: openssl rand -hex 16',
      'apiKeys: API_KEYS entry 3 (role send) must be at least 16 characters (it has 9); generate one with: openssl rand -hex 16',
      'internalToken: INTERNAL_TOKEN must be at least 16 characters (it has 1); generate one with: openssl rand -hex 16',
    ]);
    expect(problems.join('\n')).not.toContain('short-key');
    expect(problemsOf({ API_KEYS: `${'a'.repeat(16)}:admin`, INTERNAL_TOKEN: 'b'.repeat(16) })).toEqual([]);
  });

  it('needs the internal token only when it runs the delivery worker', () => {
    expect(problemsOf({ API_KEYS: `${k1}:send` })).toEqual([expect.stringMatching(/^internalToken: INTERNAL_TOKEN must be at least 16 characters \(it has 0\)/)]);
    expect(problemsOf({ API_KEYS: `${k1}:send`, DISPATCHER_WORKER_ENABLED: 'false' })).toEqual([]);
    expect(problemsOf({ DISPATCHER_WORKER_ENABLED: 'false', INTERNAL_TOKEN: 'short' })).toHaveLength(1);
  });
});

describe('per-key rate limits', () => {
  it('gives each key its own limit from API_KEYS, else its role\'s', () => {
    const { config } = loadDispatcherConfig({ env: { API_KEYS: `${k1}:send:50,${k2}:admin`, INTERNAL_TOKEN: token, API_RATE_LIMIT_ADMIN: '7' } });
    expect(apiKeyLimits(config)).toEqual(new Map([[k1, 50], [k2, 7]]));
    expect(parseApiKeys(config.apiKeys)).toEqual(new Map([[k1, 'send'], [k2, 'admin']]));
    expect(config.rateLimit).toEqual({ windowSeconds: 1, send: 1_000, admin: 7, storeWaitMs: 250 });
  });

  it('refuses a limit that is not a whole number, and a zero window', () => {
    expect(problemsOf({ API_KEYS: `${k1}:send:lots`, INTERNAL_TOKEN: token })).toEqual([expect.stringMatching(/^apiKeys: .*rate limit, a whole number/)]);
    expect(problemsOf({ API_KEYS: `${k1}:send`, INTERNAL_TOKEN: token, API_RATE_LIMIT_WINDOW_SECONDS: '0' })).toEqual([expect.stringMatching(/API_RATE_LIMIT_WINDOW_SECONDS/)]);
  });
});

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadDispatcherConfig({ env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
