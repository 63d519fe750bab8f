import { ConfigError } from '@outbound/core';
import { loadDispatcherConfig, parseApiKeys } from '../src';

describe('dispatcher configuration', () => {
  it('reads the documented environment names', () => {
    const { config, redacted } = loadDispatcherConfig({
      env: { DISPATCHER_HTTP_PORT: '9090', API_KEYS: 'k1:send, k2:admin', INTERNAL_TOKEN: 'tok', REDIS_URL: 'redis://10.0.0.1:6380', QUEUE_SHARDS: '8', LOG_LEVEL: 'warn' },
    });
    expect(config.http.port).toBe(9090);
    expect(config.queue.shards).toBe(8);
    expect(config.logLevel).toBe('warn');
    expect(parseApiKeys(config.apiKeys)).toEqual(new Map([['k1', 'send'], ['k2', 'admin']]));
    // Secrets never reach the logged configuration.
    expect(JSON.stringify(redacted)).not.toMatch(/k1|k2|tok"|10\.0\.0\.1/);
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
    expect(loadDispatcherConfig({ env: {} }).config.queue.admissionMaxMemoryRatio).toBe(0.9);
    expect(loadDispatcherConfig({ env: { QUEUE_ADMISSION_MAX_MEMORY_RATIO: '0.75' } }).config.queue.admissionMaxMemoryRatio).toBe(0.75);
    expect(() => loadDispatcherConfig({ env: { QUEUE_ADMISSION_MAX_MEMORY_RATIO: '1.5' } })).toThrow(/queue\.admissionMaxMemoryRatio/);
    expect(() => loadDispatcherConfig({ env: { QUEUE_ADMISSION_MAX_MEMORY_RATIO: 'most' } })).toThrow(/queue\.admissionMaxMemoryRatio/);
  });

  it('reads the Redis record layout, v2 by default, and refuses another', () => {
    expect(loadDispatcherConfig({ env: {} }).config.queue).toMatchObject({ redisLayout: 'v2', keepFinishedPayload: false });
    expect(loadDispatcherConfig({ env: { QUEUE_REDIS_LAYOUT: 'v3', QUEUE_KEEP_FINISHED_PAYLOAD: 'true' } }).config.queue).toMatchObject({ redisLayout: 'v3', keepFinishedPayload: true });
    expect(() => loadDispatcherConfig({ env: { QUEUE_REDIS_LAYOUT: 'v4' } })).toThrow(/queue\.redisLayout/);
  });

  it('refuses a lease no longer than its margin', () => {
    expect(() => loadDispatcherConfig({ env: { DISPATCHER_LEASE_MS: '1000', DISPATCHER_LEASE_MARGIN_MS: '1000' } })).toThrow(/worker\.leaseMs/);
  });
});
