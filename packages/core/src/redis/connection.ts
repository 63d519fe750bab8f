import Redis, { Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';

/** How to reach Redis: standalone by URL, Sentinel, or Cluster. */
export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port/db` or `rediss://` for TLS. Standalone and the seed for cluster mode. */
  url: string;
  mode?: 'standalone' | 'sentinel' | 'cluster';
  /** ACL user and password override what the URL carries. */
  username?: string;
  password?: string;
  db?: number;
  /** Sentinel: `host:port` list and the master group name. */
  sentinels?: string[];
  sentinelName?: string;
  /** Cluster: seed nodes as `host:port`; defaults to the URL's host. */
  clusterNodes?: string[];
  connectTimeoutMs?: number;
  /** Per-command timeout; unanswered commands fail instead of hanging. */
  commandTimeoutMs?: number;
  /** Name shown in CLIENT LIST. */
  connectionName?: string;
}

/** The client type both modes share (ioredis `Redis` and `Cluster` have the same command surface). */
export type RedisClient = Redis | Cluster;

function hostPort(value: string): { host: string; port: number } {
  const [host, port] = value.split(':');
  return { host: host || '127.0.0.1', port: Number(port || 6379) };
}

/**
 * Makes an ioredis client. Commands issued while disconnected are queued and re-sent after a
 * reconnect (ioredis' offline queue), which is why every queue script is safe to run twice.
 */
export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const url = new URL(options.url);
  const tls = url.protocol === 'rediss:' ? {} : undefined;
  const username = options.username || decodeURIComponent(url.username) || undefined;
  const password = options.password || decodeURIComponent(url.password) || undefined;
  const dbFromUrl = url.pathname && url.pathname !== '/' ? Number(url.pathname.slice(1)) : undefined;
  const common: RedisOptions = {
    username,
    password,
    tls,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    commandTimeout: options.commandTimeoutMs,
    connectionName: options.connectionName,
    maxRetriesPerRequest: 3,
    enableReadyCheck: true,
    // quit()/disconnect() of a client that is reconnecting arms this timer to destroy a socket that is already
    // closed, and nothing clears it: at the default 2 s an embedded stop() kept the process alive 2 s after Redis
    // went away. 200 ms is ample for a live server to close its end of the connection.
    disconnectTimeout: 200,
  };
  const mode = options.mode ?? 'standalone';
  if (mode === 'cluster') {
    const seeds = (options.clusterNodes?.length ? options.clusterNodes : [url.host]).map(hostPort);
    const clusterOptions: ClusterOptions = { redisOptions: common, enableReadyCheck: true, slotsRefreshTimeout: 2_000 };
    return new Cluster(seeds, clusterOptions);
  }
  if (mode === 'sentinel') {
    return new Redis({
      ...common,
      db: options.db ?? dbFromUrl ?? 0,
      sentinels: (options.sentinels ?? []).map(hostPort),
      name: options.sentinelName ?? 'mymaster',
      sentinelUsername: username,
      sentinelPassword: password,
    });
  }
  return new Redis({
    ...common,
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 6379),
    db: options.db ?? dbFromUrl ?? 0,
  });
}

export interface RedisHealth {
  status: 'ok' | 'degraded' | 'down';
  latencyMs: number | null;
  connection: string;
  warnings: string[];
  details: Record<string, string>;
}

/**
 * Ping latency, connection state, and warnings when Redis is set up to lose data
 * (`maxmemory-policy` other than `noeviction`, AOF off); docs/deploy.md, Redis settings.
 */
export async function checkRedisHealth(client: RedisClient): Promise<RedisHealth> {
  const connection = client.status;
  const started = process.hrtime.bigint();
  try {
    await client.ping();
  } catch (error) {
    return { status: 'down', latencyMs: null, connection, warnings: [`ping failed: ${(error as Error).message}`], details: {} };
  }
  const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
  const warnings: string[] = [];
  const details: Record<string, string> = {};
  try {
    const node = client instanceof Cluster ? client.nodes('master')[0] : client;
    if (node) {
      const policy = (await node.config('GET', 'maxmemory-policy')) as string[];
      const aof = (await node.config('GET', 'appendonly')) as string[];
      details.maxmemoryPolicy = policy[1] ?? 'unknown';
      details.appendonly = aof[1] ?? 'unknown';
      if (details.maxmemoryPolicy !== 'noeviction') warnings.push(`maxmemory-policy is ${details.maxmemoryPolicy}; Outbound needs noeviction or accepted commands can be evicted`);
      if (details.appendonly !== 'yes') warnings.push('appendonly is off; a Redis restart loses accepted commands (enable AOF)');
    }
  } catch (error) {
    // CONFIG may be disabled by ACL or a managed service; say so instead of failing the check.
    warnings.push(`could not read CONFIG: ${(error as Error).message}`);
  }
  return { status: warnings.length ? 'degraded' : 'ok', latencyMs, connection, warnings, details };
}
