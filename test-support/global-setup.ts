import { startRedisServer, RedisServerHandle } from './redis-server';

/**
 * Starts one redis-server for the whole run on a free port; every test file uses its own
 * key prefix on it. PostgreSQL tests create their own database on OUTBOUND_TEST_PG_URL.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.OUTBOUND_TEST_REDIS_URL) {
    const server = await startRedisServer();
    (globalThis as { __outboundRedis?: RedisServerHandle }).__outboundRedis = server;
    process.env.OUTBOUND_TEST_REDIS_URL = server.url;
  }
  process.env.OUTBOUND_TEST_PG_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
}
