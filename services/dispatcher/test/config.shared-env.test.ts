import { ConfigError } from '@outbound/core';
import { loadIngressConfig } from '@outbound/ingress';
import { createTestDatabase, testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { loadDispatcherConfig } from '../src';
import { startTestDispatcher } from './support/harness';

/** One environment for both services (one ConfigMap, one compose anchor): the names are the contract. */
const shared = {
  QUEUE_BACKEND: 'postgres',
  DATABASE_URL: 'postgres://outbound:s3cret@db.internal:5432/outbound',
  DATABASE_POOL_MAX: '7',
  DATABASE_IDLE_TIMEOUT_MS: '1000',
  DATABASE_STATEMENT_TIMEOUT_MS: '2000',
  DATABASE_CONNECT_TIMEOUT_MS: '3000',
  DATABASE_MIGRATE: 'false',
  REGISTRY_PREFIX: 'fleet-a',
  REGISTRY_SHARDS: '8',
  INTERNAL_TOKEN: 'internal-token-0123456789',
  DEVICE_AUTH_SECRETS: 'fleet-secret-0123456789abcdef0123',
};

describe('the environment contract ingress and dispatcher share', () => {
  it('selects the same store and registry in both services from the same names, with the same defaults', () => {
    const ingress = loadIngressConfig({ env: shared });
    const dispatcher = loadDispatcherConfig({ env: shared });
    expect(ingress.config.registry.backend).toBe('postgres');
    expect(dispatcher.config.queue.backend).toBe('postgres');
    expect(dispatcher.config.registry).toEqual({ prefix: 'fleet-a', shards: 8 });
    expect(ingress.config.registry).toMatchObject({ prefix: 'fleet-a', shards: 8 });
    expect(dispatcher.config.postgres).toEqual(ingress.config.postgres);
    expect(dispatcher.config.postgres).toEqual({ url: shared.DATABASE_URL, poolMax: 7, idleTimeoutMs: 1_000, statementTimeoutMs: 2_000, connectTimeoutMs: 3_000, migrate: false });
    for (const { redacted } of [ingress, dispatcher]) expect(JSON.stringify(redacted)).not.toContain('s3cret');

    const defaults = { INTERNAL_TOKEN: shared.INTERNAL_TOKEN, DEVICE_AUTH_SECRETS: shared.DEVICE_AUTH_SECRETS };
    const i = loadIngressConfig({ env: defaults }).config;
    const d = loadDispatcherConfig({ env: defaults }).config;
    expect([i.registry.backend, i.registry.prefix, i.registry.shards]).toEqual([d.queue.backend, d.registry.prefix, d.registry.shards]);
    expect(i.postgres.migrate && d.postgres.migrate).toBe(true);
  });

  it.each([
    [{ QUEUE_BACKEND: 'postgres' }, /DATABASE_URL is required when QUEUE_BACKEND=postgres/],
    [{ QUEUE_BACKEND: 'postgres', DATABASE_URL: 'redis://db:6379' }, /DATABASE_URL must start with postgres:\/\//],
    [{ QUEUE_BACKEND: 'postgres', DATABASE_URL: 'not a url' }, /DATABASE_URL must be a URL/],
  ])('refuses %j in both services with one line naming the variable', (env, line) => {
    for (const load of [loadIngressConfig, loadDispatcherConfig]) {
      let error: unknown;
      try {
        load({ env: { INTERNAL_TOKEN: shared.INTERNAL_TOKEN, DEVICE_AUTH_SECRETS: shared.DEVICE_AUTH_SECRETS, ...env } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.some((p) => line.test(p))).toBe(true);
    }
  });

  it('with DATABASE_MIGRATE=false refuses to start on a schema that was never migrated, and says what to run', async () => {
    const database = await createTestDatabase('no-migrate');
    try {
      const schema = uniquePrefix('unmigrated');
      await expect(startTestDispatcher(testRedisUrl(), { queue: { backend: 'postgres' }, postgres: { url: database.url, migrate: false } }, 'no-migrate', schema))
        .rejects.toThrow(new RegExp(`schema "${schema}" is at migration 0.*outbound migrate --schema ${schema}`));
      // The template's schema "outbound" is migrated: the same settings start there.
      const d = await startTestDispatcher(testRedisUrl(), { queue: { backend: 'postgres' }, postgres: { url: database.url, migrate: false } }, 'no-migrate', 'outbound');
      await d.stop();
    } finally {
      await database.drop();
    }
  });
});
