import type convict from 'convict';
import type { RedisConnectionOptions } from '../redis/connection';

/** Redis connection settings shared by both services (environment names are the contract). */
export interface RedisConfig {
  url: string;
  mode: 'standalone' | 'sentinel' | 'cluster';
  username: string;
  password: string;
  db: number;
  sentinels: string[];
  sentinelName: string;
  clusterNodes: string[];
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export const redisConfigSchema: convict.Schema<RedisConfig> = {
  url: { doc: 'Redis URL: redis://[user:pass@]host:port/db, or rediss:// for TLS', format: 'url', default: 'redis://127.0.0.1:6379', env: 'REDIS_URL', sensitive: true },
  mode: { doc: 'standalone, sentinel or cluster', format: ['standalone', 'sentinel', 'cluster'], default: 'standalone', env: 'REDIS_MODE' },
  username: { doc: 'ACL user (overrides the URL)', format: String, default: '', env: 'REDIS_USERNAME' },
  password: { doc: 'password (overrides the URL)', format: String, default: '', env: 'REDIS_PASSWORD', sensitive: true },
  db: { doc: 'database number (standalone and sentinel)', format: 'nat', default: 0, env: 'REDIS_DB' },
  sentinels: { doc: 'Sentinel host:port list, comma-separated', format: 'string-list', default: [], env: 'REDIS_SENTINELS' },
  sentinelName: { doc: 'Sentinel master group name', format: String, default: 'mymaster', env: 'REDIS_SENTINEL_NAME' },
  clusterNodes: { doc: 'Cluster seed host:port list, comma-separated (default: the URL host)', format: 'string-list', default: [], env: 'REDIS_CLUSTER_NODES' },
  connectTimeoutMs: { doc: 'connect timeout', format: 'nat', default: 5_000, env: 'REDIS_CONNECT_TIMEOUT_MS' },
  commandTimeoutMs: { doc: 'per-command timeout (0: none)', format: 'nat', default: 5_000, env: 'REDIS_COMMAND_TIMEOUT_MS' },
};

export function toRedisConnectionOptions(config: RedisConfig, connectionName: string): RedisConnectionOptions {
  return {
    url: config.url,
    mode: config.mode,
    username: config.username || undefined,
    password: config.password || undefined,
    db: config.db,
    sentinels: [...config.sentinels],
    sentinelName: config.sentinelName,
    clusterNodes: [...config.clusterNodes],
    connectTimeoutMs: config.connectTimeoutMs,
    commandTimeoutMs: config.commandTimeoutMs || undefined,
    connectionName,
  };
}

export const logLevelSchema = {
  doc: 'pino log level',
  format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
  default: 'info',
  env: 'LOG_LEVEL',
} as const;

/** Shortest API key or internal token accepted: 16 characters (e.g. `openssl rand -hex 16` gives 32). */
export const MIN_TOKEN_CHARS = 16;
/** Shortest device fleet secret accepted: 32 bytes, the HMAC-SHA256 key size (`openssl rand -hex 32`). */
export const MIN_DEVICE_SECRET_BYTES = 32;

/**
 * A one-line problem when a bearer token (API key, internal token) is too short to resist
 * guessing, or undefined. `what` names the setting; the value itself is never repeated.
 */
export function tokenStrengthProblem(what: string, value: string): string | undefined {
  if (value.length >= MIN_TOKEN_CHARS) return undefined;
  return `${what} must be at least ${MIN_TOKEN_CHARS} characters (it has ${value.length}); generate one with: openssl rand -hex 16`;
}

/** A one-line problem when a device fleet secret is under 32 bytes (UTF-8), or undefined. */
export function deviceSecretStrengthProblem(what: string, value: string): string | undefined {
  const bytes = Buffer.byteLength(value);
  if (bytes >= MIN_DEVICE_SECRET_BYTES) return undefined;
  return `${what} must be at least ${MIN_DEVICE_SECRET_BYTES} bytes (it has ${bytes}); generate one with: openssl rand -hex 32`;
}
