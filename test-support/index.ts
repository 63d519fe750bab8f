export { freePort } from './free-port';
export { listeningPorts } from '../tools/bench/src/bench/listening-ports';
export { startOnFreePorts } from '../tools/bench/src/bench/service-processes';
export { waitFor } from './wait-for';
export { uniquePrefix } from './unique-prefix';
export { startRedisServer, type RedisServerHandle } from './redis-server';
export { startRedisCluster, type RedisClusterHandle } from './redis-cluster';
export { createTestDatabase, type TestDatabase } from './postgres';
export { startPostgresServer, type PostgresServerHandle } from './postgres-server';

/** The run's shared redis-server (started by the global setup). */
export function testRedisUrl(): string {
  const url = process.env.OUTBOUND_TEST_REDIS_URL;
  if (!url) throw new Error('OUTBOUND_TEST_REDIS_URL is not set: run tests through jest (global setup starts redis-server)');
  return url;
}

/** The PostgreSQL server tests create their databases on. */
export function testPgUrl(): string {
  return process.env.OUTBOUND_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}
export { deepMerge } from './deep-merge';
export { fillRedisMemory, redisMemoryOf } from './redis-memory';
export { RawHttpConnection, requestHead } from './raw-http';
export { startLatencyProxy, type LatencyProxyHandle } from './latency-proxy';
