import type { RedisServerHandle } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __outboundRedis?: RedisServerHandle }).__outboundRedis;
  if (server) await server.stop();
}
