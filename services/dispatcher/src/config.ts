import { hostname } from 'node:os';
import convict from 'convict';
import {
  ConfigError, DEFAULT_REDIS_LAYOUT, httpServerLimitsProblems, REDIS_LAYOUTS, httpServerLimitsSchema, loadConfig, logLevelSchema, logSamplingProblems, logSamplingSchema, postgresConfigProblems,
  postgresConfigSchema, redisConfigSchema, tokenStrengthProblem, tracingProblems, tracingSchema, type HttpServerLimits, type LogSamplingConfig, type TracingConfig, type PostgresConfig, type RedisConfig, type RedisLayout,
} from '@outbound/core';

/** An API key's role: `send` enqueues, reads and cancels commands; `admin` may also read stats and devices and manage dead letters. */
export type ApiRole = 'send' | 'admin';

export interface DispatcherConfig {
  logLevel: string;
  /** Sampling of success log lines (access log, command transitions). */
  log: LogSamplingConfig;
  /** OpenTelemetry tracing (the standard OTEL_* variables); off unless an exporter or endpoint is set. */
  tracing: TracingConfig;
  http: { host: string; port: number; bodyLimitBytes: number } & HttpServerLimits;
  /** `key:role` or `key:role:limit` entries (limit: requests per rate-limit window for that key). */
  apiKeys: string[];
  /** Requests each API key may make per window, by role (0: unlimited); an API_KEYS entry's own limit wins. */
  rateLimit: { windowSeconds: number; send: number; admin: number; storeWaitMs: number };
  /** Bearer token for the ingress replicas' internal delivery endpoint. */
  internalToken: string;
  redis: RedisConfig;
  queue: {
    backend: 'redis' | 'postgres';
    prefix: string;
    shards: number;
    maxInFlightPerDevice: number;
    perDeviceCap: number;
    globalCap: number;
    retentionMs: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    /** Enqueue stops (503 STORE_FULL) once Redis used_memory reaches this share of maxmemory; 0: off. */
    admissionMaxMemoryRatio: number;
    /** Redis record layout: v3 (default) or v2 (docs/redis-keys.md); every dispatcher must use the same. */
    redisLayout: RedisLayout;
    /**
     * On v3, what of the v2 layout this dispatcher delivers: `auto` what v2 holds whenever a
     * check finds it holding commands, `v2` always (an upgrade asked for by name), `none` nothing.
     * docs/operations.md, "Upgrading the Redis layout".
     */
    redisUpgradeFrom: 'auto' | 'v2' | 'none';
    /** How often the v2 layout is counted (QUEUE_REDIS_UPGRADE_FROM auto and v2: the drain check and the gauge between scrapes). */
    redisUpgradeCheckMs: number;
    /** v3: keep a finished command's payload (default: dropped, its size and hash kept). */
    keepFinishedPayload: boolean;
    /** v3: bytes of finished records and event log entries kept at most, the oldest trimmed first (0: time alone bounds them). */
    retentionMaxBytes: number;
  };
  /** Must match every ingress replica's REGISTRY_PREFIX / REGISTRY_SHARDS. */
  registry: { prefix: string; shards: number };
  /** QUEUE_BACKEND=postgres: DATABASE_URL, pool and migrations (the same names as ingress). */
  postgres: PostgresConfig;
  worker: {
    enabled: boolean;
    claimBatch: number;
    maxInFlight: number;
    leaseMs: number;
    leaseMarginMs: number;
    idleWaitMs: number;
    claimOnEnqueue: boolean;
    deliveryStream: boolean;
    reapIntervalMs: number;
    trimIntervalMs: number;
    parkedCheckMs: number;
    outcomeFlushMs: number;
    deliveryBatchMax: number;
    routeCacheMs: number;
    routeMaxAgeMs: number;
    hopTiming: boolean;
  };
  api: { maxWaitMs: number; batchMax: number; enqueueConcurrency: number; eventsKeepaliveMs: number };
  /** Delivery of the event log to webhooks (docs/api.md, "Webhooks"). */
  webhooks: {
    enabled: boolean;
    pollMs: number;
    leaseMs: number;
    timeoutMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    giveUpMs: number;
    window: number;
  };
  /** This dispatcher's liveness record (GET /v1/cluster): its id, refreshed every intervalMs, lapsing after ttlMs. */
  liveness: { id: string; intervalMs: number; ttlMs: number };
  shutdown: { graceMs: number };
}

convict.addFormat({
  name: 'api-keys',
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list of key:role[:limit]');
    for (const entry of value as unknown[]) {
      const [key, role, limit, ...rest] = String(entry).split(':');
      if (!key || rest.length > 0 || (role !== 'send' && role !== 'admin')) {
        throw new Error(`each entry must be key:send or key:admin, optionally :<requests per window> (got an entry with role "${role ?? ''}")`);
      }
      if (limit !== undefined && !/^\d+$/.test(limit)) throw new Error(`the third field of an entry is its rate limit, a whole number (got "${limit}")`);
    }
  },
  coerce: (value: unknown) =>
    typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : value,
});

const nat = 'nat' as const;
const pos = (doc: string, def: number, env: string) => ({ doc, format: 'nat', default: def, env }) as const;

/** The dispatcher's configuration: defaults, DISPATCHER_CONFIG_FILE (JSON), then environment variables. */
export const dispatcherConfigSchema: convict.Schema<DispatcherConfig> = {
  logLevel: logLevelSchema,
  log: logSamplingSchema,
  tracing: tracingSchema,
  http: {
    host: { doc: 'public API bind address', format: String, default: '0.0.0.0', env: 'DISPATCHER_HTTP_HOST' },
    port: { doc: 'public API port (0: any free port)', format: 'port', default: 8080, env: 'DISPATCHER_HTTP_PORT' },
    bodyLimitBytes: pos('largest request body accepted (413 above)', 8 * 1024 * 1024, 'DISPATCHER_BODY_LIMIT_BYTES'),
    ...httpServerLimitsSchema('DISPATCHER_HTTP', 10_000),
  },
  apiKeys: { doc: 'API keys with roles: key1:send,key2:admin; key3:send:50 gives key3 its own rate limit', format: 'api-keys', default: [], env: 'API_KEYS', sensitive: true },
  rateLimit: {
    windowSeconds: pos('rate-limit window: each key\'s requests are counted per this many seconds, across every dispatcher', 1, 'API_RATE_LIMIT_WINDOW_SECONDS'),
    send: pos('requests per window for each send key (429 above; 0: unlimited)', 1_000, 'API_RATE_LIMIT_SEND'),
    admin: pos('requests per window for each admin key (429 above; 0: unlimited)', 1_000, 'API_RATE_LIMIT_ADMIN'),
    storeWaitMs: pos('longest wait for the store\'s count; past it the request goes ahead unlimited (a down store must not delay every request)', 250, 'API_RATE_LIMIT_STORE_WAIT_MS'),
  },
  internalToken: { doc: 'bearer token for the ingress internal delivery API', format: String, default: '', env: 'INTERNAL_TOKEN', sensitive: true },
  redis: redisConfigSchema,
  queue: {
    backend: { doc: 'queue and route registry store: redis or postgres (the same on every ingress and dispatcher)', format: ['redis', 'postgres'], default: 'redis', env: 'QUEUE_BACKEND' },
    prefix: { doc: 'key prefix (Redis) or schema (PostgreSQL)', format: String, default: 'outbound', env: 'QUEUE_PREFIX' },
    shards: { doc: 'hash-tagged queue shards (Redis); every dispatcher must use the same', format: nat, default: 16, env: 'QUEUE_SHARDS' },
    maxInFlightPerDevice: pos('commands outstanding per device', 1, 'QUEUE_MAX_IN_FLIGHT_PER_DEVICE'),
    perDeviceCap: pos('queued commands per device (429 above)', 1_000, 'QUEUE_PER_DEVICE_CAP'),
    globalCap: pos('queued commands in total (429 above)', 1_000_000, 'QUEUE_GLOBAL_CAP'),
    retentionMs: pos('finished commands stay readable this long', 24 * 3_600_000, 'QUEUE_RETENTION_MS'),
    retentionMaxBytes: pos('Redis v3: bytes of finished records and event log entries kept at most across the shards; past it the oldest go before QUEUE_RETENTION_MS ends, a record with its events (0: no budget)', 0, 'QUEUE_RETENTION_MAX_BYTES'),
    backoffBaseMs: pos('first retry delay (doubles per attempt, with jitter)', 1_000, 'QUEUE_BACKOFF_BASE_MS'),
    backoffMaxMs: pos('longest retry delay', 60_000, 'QUEUE_BACKOFF_MAX_MS'),
    admissionMaxMemoryRatio: {
      doc: 'Redis: enqueue answers 503 STORE_FULL once used_memory reaches this share of maxmemory, so deliveries and acks keep the rest to drain the queue (0: off)',
      format: (value: unknown) => {
        if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new Error('must be a number from 0 to 1');
      },
      default: 0.9,
      env: 'QUEUE_ADMISSION_MAX_MEMORY_RATIO',
    },
    redisLayout: {
      doc: 'Redis record layout: v3 (keys under <prefix>:v3:), or v2 (the layout of earlier releases); the same on every dispatcher',
      format: [...REDIS_LAYOUTS],
      default: DEFAULT_REDIS_LAYOUT,
      env: 'QUEUE_REDIS_LAYOUT',
    },
    redisUpgradeFrom: {
      doc: 'Redis v3 layout: auto: deliver what the v2 layout holds once a check (at start, then every QUEUE_REDIS_UPGRADE_CHECK_MS) finds it holding commands, new commands going to v3; v2: from the start, whatever it holds; none: never read v2 (a warning at start when it holds commands)',
      format: ['auto', 'v2', 'none'],
      default: 'auto',
      env: 'QUEUE_REDIS_UPGRADE_FROM',
    },
    redisUpgradeCheckMs: pos('Redis v3 layout: how often what the v2 layout holds is counted (QUEUE_REDIS_UPGRADE_FROM auto: the check that starts the drain; auto and v2: the check that ends it)', 5_000, 'QUEUE_REDIS_UPGRADE_CHECK_MS'),
    keepFinishedPayload: {
      doc: 'Redis v3 layout: keep a finished command\'s payload for its retention (default: dropped, its size and hash kept)',
      format: Boolean,
      default: false,
      env: 'QUEUE_KEEP_FINISHED_PAYLOAD',
    },
  },
  registry: {
    prefix: { doc: 'route registry key prefix (Redis) or schema (PostgreSQL); the same on every ingress and dispatcher', format: String, default: 'outbound', env: 'REGISTRY_PREFIX' },
    shards: pos('route registry shards (Redis); the same on every ingress and dispatcher', 16, 'REGISTRY_SHARDS'),
  },
  // The dispatcher claims, records outcomes and serves the API at once: twice ingress' pool.
  postgres: { ...postgresConfigSchema, poolMax: { ...(postgresConfigSchema.poolMax as object), default: 20 } } as convict.Schema<PostgresConfig>,
  worker: {
    enabled: { doc: 'run the delivery worker (false: API only)', format: Boolean, default: true, env: 'DISPATCHER_WORKER_ENABLED' },
    claimBatch: pos('most commands taken per claim call', 200, 'DISPATCHER_CLAIM_BATCH'),
    maxInFlight: pos('most deliveries outstanding at once in this process', 2_000, 'DISPATCHER_MAX_IN_FLIGHT'),
    leaseMs: pos('lease on a claimed command; a crashed dispatcher\'s commands return after it', 30_000, 'DISPATCHER_LEASE_MS'),
    leaseMarginMs: pos('lease time kept back from the device ACK wait for recording the outcome', 5_000, 'DISPATCHER_LEASE_MARGIN_MS'),
    idleWaitMs: pos('longest idle wait for a wake-up before claiming anyway (covers lost signals)', 1_000, 'DISPATCHER_IDLE_WAIT_MS'),
    claimOnEnqueue: {
      doc: 'Redis (v2 layout): while the delivery worker waits for work (nothing ready at its last claim, whatever is in flight), an enqueue through this dispatcher\'s API claims what it made ready in the same script and the worker delivers it at once (saves the wake-up and the claim round trip); false: every command waits for the worker\'s own claim',
      format: Boolean,
      default: true,
      env: 'DISPATCHER_CLAIM_ON_ENQUEUE',
    },
    reapIntervalMs: pos('how often expired leases are reclaimed and TTLs expired', 1_000, 'DISPATCHER_REAP_INTERVAL_MS'),
    trimIntervalMs: pos('Redis v3: how often finished records and the event log are counted and trimmed to QUEUE_RETENTION_MAX_BYTES', 10_000, 'DISPATCHER_TRIM_INTERVAL_MS'),
    parkedCheckMs: pos('how often parked devices are compared with the route registry', 3_000, 'DISPATCHER_PARKED_CHECK_MS'),
    outcomeFlushMs: pos('0: outcomes answered in the same event-loop turn share one queue call, more gather while calls are in flight; above 0: also wait this long before each call', 0, 'DISPATCHER_OUTCOME_FLUSH_MS'),
    deliveryStream: {
      doc: 'deliver over one long-lived delivery stream per ingress replica (an upgraded connection carrying every batch; a replica that refuses it gets batch calls, and is asked again after 60 s); false: one HTTP batch call per batch',
      format: Boolean,
      default: true,
      env: 'DISPATCHER_DELIVERY_STREAM',
    },
    deliveryBatchMax: pos('most deliveries per ingress batch call (ingress accepts up to 1000)', 500, 'DISPATCHER_DELIVERY_BATCH_MAX'),
    routeCacheMs: pos('how long a looked-up device route is reused (dropped at once on the device\'s online signal or a 404/409 from its ingress); 0: look up every claim', 2_000, 'DISPATCHER_ROUTE_CACHE_MS'),
    routeMaxAgeMs: pos('how long a cached device route is kept past DISPATCHER_ROUTE_CACHE_MS, used while its ingress replica was judged live by the registry within DISPATCHER_ROUTE_CACHE_MS (one read of the live replicas for every device)', 60_000, 'DISPATCHER_ROUTE_MAX_AGE_MS'),
    hopTiming: {
      doc: 'measure each hop of a delivery (outbound_dispatcher_hop_seconds); the ingress stamps its answer lines for it. For benchmarks and diagnosis: it adds a few clock reads per command',
      format: Boolean,
      default: false,
      env: 'DISPATCHER_HOP_TIMING',
    },
  },
  api: {
    maxWaitMs: pos('longest ?waitMs a caller may ask for', 60_000, 'DISPATCHER_MAX_WAIT_MS'),
    batchMax: pos('most commands per batch enqueue', 1_000, 'DISPATCHER_BATCH_MAX'),
    enqueueConcurrency: pos(
      'enqueue store calls in flight at once; requests arriving beyond share the next call (group commit). 0: the backend\'s own, 4 on Redis and 1 on PostgreSQL (where concurrent enqueues wait on each other\'s device-row locks)',
      0,
      'DISPATCHER_ENQUEUE_CONCURRENCY',
    ),
    eventsKeepaliveMs: pos('live event stream (GET /v1/events): a keepalive comment this often, so proxies keep idle streams open', 15_000, 'EVENTS_KEEPALIVE_MS'),
  },
  webhooks: {
    enabled: { doc: 'deliver events to webhooks from this dispatcher (each webhook is delivered by one dispatcher at a time, under a lease)', format: Boolean, default: true, env: 'WEBHOOKS_ENABLED' },
    pollMs: pos('how often the webhook list is read for webhooks to take over (new ones, or ones whose dispatcher stopped)', 2_000, 'WEBHOOK_POLL_MS'),
    leaseMs: pos('a webhook\'s lease: another dispatcher takes a crashed one\'s webhooks after this', 15_000, 'WEBHOOK_LEASE_MS'),
    timeoutMs: pos('longest wait for a receiver\'s answer to one POST (connect included)', 10_000, 'WEBHOOK_TIMEOUT_MS'),
    retryBaseMs: pos('first retry delay of a failed POST (doubles per retry, with jitter)', 5_000, 'WEBHOOK_RETRY_BASE_MS'),
    retryMaxMs: pos('longest retry delay (a receiver back after an outage is retried within this)', 600_000, 'WEBHOOK_RETRY_MAX_MS'),
    giveUpMs: pos('an event still failing this long after its first POST is given up and delivery moves on', 24 * 3_600_000, 'WEBHOOK_GIVE_UP_MS'),
    window: pos('POSTs of one webhook in flight at once (events may then arrive out of order)', 8, 'WEBHOOK_WINDOW'),
  },
  liveness: {
    id: { doc: 'this dispatcher\'s id in GET /v1/cluster (default: hostname-pid)', format: String, default: '', env: 'DISPATCHER_ID' },
    intervalMs: pos('how often this dispatcher refreshes its liveness record', 5_000, 'DISPATCHER_HEARTBEAT_INTERVAL_MS'),
    ttlMs: pos('a dispatcher that stopped refreshing (killed) leaves GET /v1/cluster this long after its last refresh', 20_000, 'DISPATCHER_HEARTBEAT_TTL_MS'),
  },
  shutdown: { graceMs: pos('SIGTERM: in-flight work gets this long before the process exits', 15_000, 'DISPATCHER_SHUTDOWN_GRACE_MS') },
};

/** Loads and validates the configuration; throws ConfigError with one line per problem. */
export function loadDispatcherConfig(
  options: { env?: NodeJS.ProcessEnv; overrides?: Partial<Record<string, unknown>> } = {},
): { config: Readonly<DispatcherConfig>; redacted: Record<string, unknown> } {
  const loaded = loadConfig(dispatcherConfigSchema, { ...options, configFileEnv: 'DISPATCHER_CONFIG_FILE' });
  const { config } = loaded;
  const problems = postgresConfigProblems(config.queue.backend, config.postgres);
  problems.push(...logSamplingProblems(config.log), ...tracingProblems(config.tracing));
  if (config.worker.leaseMs <= config.worker.leaseMarginMs) {
    problems.push(`worker.leaseMs: must exceed worker.leaseMarginMs (${config.worker.leaseMarginMs}): value was ${config.worker.leaseMs}`);
  }
  if (config.queue.redisUpgradeFrom === 'v2' && (config.queue.backend !== 'redis' || config.queue.redisLayout === config.queue.redisUpgradeFrom)) {
    problems.push(`queue.redisUpgradeFrom: QUEUE_REDIS_UPGRADE_FROM=${config.queue.redisUpgradeFrom} needs QUEUE_BACKEND=redis and another QUEUE_REDIS_LAYOUT (v3): value was backend ${config.queue.backend}, layout ${config.queue.redisLayout}`);
  }
  if (config.queue.retentionMaxBytes > 0 && (config.queue.backend !== 'redis' || config.queue.redisLayout !== 'v3')) {
    problems.push(`queue.retentionMaxBytes: QUEUE_RETENTION_MAX_BYTES needs QUEUE_BACKEND=redis and QUEUE_REDIS_LAYOUT=v3: value was backend ${config.queue.backend}, layout ${config.queue.redisLayout}`);
  }
  if (config.queue.redisUpgradeCheckMs < 1) problems.push(`queue.redisUpgradeCheckMs: QUEUE_REDIS_UPGRADE_CHECK_MS must be at least 1: value was ${config.queue.redisUpgradeCheckMs}`);
  if (config.worker.trimIntervalMs < 1) problems.push(`worker.trimIntervalMs: DISPATCHER_TRIM_INTERVAL_MS must be at least 1: value was ${config.worker.trimIntervalMs}`);
  if (config.registry.shards < 1) problems.push('registry.shards: REGISTRY_SHARDS must be at least 1');
  if (config.rateLimit.windowSeconds < 1) problems.push('rateLimit.windowSeconds: API_RATE_LIMIT_WINDOW_SECONDS must be at least 1');
  if (config.liveness.ttlMs <= config.liveness.intervalMs) problems.push(`liveness.ttlMs: DISPATCHER_HEARTBEAT_TTL_MS must exceed DISPATCHER_HEARTBEAT_INTERVAL_MS (${config.liveness.intervalMs}): value was ${config.liveness.ttlMs}`);
  problems.push(...httpServerLimitsProblems('http', config.http), ...secretProblems(config));
  if (problems.length) throw new ConfigError(problems);
  if (config.liveness.id && config.api.enqueueConcurrency > 0) return loaded;
  const liveness = config.liveness.id ? config.liveness : { ...config.liveness, id: `${hostname()}-${process.pid}` };
  const api = config.api.enqueueConcurrency > 0 ? config.api : { ...config.api, enqueueConcurrency: config.queue.backend === 'postgres' ? 1 : 4 };
  return {
    config: Object.freeze({ ...config, liveness: Object.freeze(liveness), api: Object.freeze(api) }),
    redacted: { ...loaded.redacted, liveness, api: { ...(loaded.redacted.api as object), enqueueConcurrency: api.enqueueConcurrency } },
  };
}

/**
 * Weak secrets stop the start: every API key and the internal token need 16 characters. The
 * internal token may be empty only when this process runs no delivery worker (API only).
 * Problems name the entry's position and role, never the key.
 */
function secretProblems(config: DispatcherConfig): string[] {
  const problems: string[] = [];
  config.apiKeys.forEach((entry, index) => {
    const [key, role] = entry.split(':');
    const problem = tokenStrengthProblem(`apiKeys: API_KEYS entry ${index + 1} (role ${role})`, key!);
    if (problem) problems.push(problem);
  });
  if (config.internalToken || config.worker.enabled) {
    const problem = tokenStrengthProblem('internalToken: INTERNAL_TOKEN', config.internalToken);
    if (problem) problems.push(problem);
  }
  return problems;
}

/** Each key's rate limit (requests per window; 0: unlimited): its own from API_KEYS, else its role's. */
export function apiKeyLimits(config: Pick<DispatcherConfig, 'apiKeys' | 'rateLimit'>): Map<string, number> {
  const limits = new Map<string, number>();
  for (const entry of config.apiKeys) {
    const [key, role, limit] = entry.split(':');
    limits.set(key!, limit === undefined ? config.rateLimit[role as ApiRole] : Number(limit));
  }
  return limits;
}

/** API_KEYS as a lookup table. */
export function parseApiKeys(entries: readonly string[]): Map<string, ApiRole> {
  const table = new Map<string, ApiRole>();
  for (const entry of entries) {
    const [key, role] = entry.split(':');
    table.set(key!, role as ApiRole);
  }
  return table;
}
