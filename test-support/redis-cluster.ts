import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { freePort } from './free-port';
import { startRedisServer, type RedisServerHandle } from './redis-server';
import { waitFor } from './wait-for';

const run = promisify(execFile);

export interface RedisClusterHandle {
  /** `host:port` of every master, for ioredis Cluster seeds. */
  nodes: string[];
  servers: RedisServerHandle[];
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster of `masters` (default 3) redis-servers on free ports (client and
 * bus ports both chosen, Redis 7 `--cluster-port`), joins them with
 * `redis-cli --cluster create --cluster-yes`, and waits until every node reports
 * cluster_state:ok.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const servers: RedisServerHandle[] = [];
  try {
    for (let i = 0; i < masters; i += 1) {
      const busPort = await freePort();
      servers.push(
        await startRedisServer([
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '5000',
          '--cluster-port', String(busPort),
        ]),
      );
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const server of servers) {
      const probe = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await waitFor(async () => String(await probe.cluster('INFO')).includes('cluster_state:ok'), {
          timeoutMs: 20_000,
          intervalMs: 50,
          what: `cluster_state:ok on ${server.port}`,
        });
      } finally {
        probe.disconnect();
      }
    }
    return {
      nodes,
      servers,
      async stop() {
        await Promise.all(servers.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
}
