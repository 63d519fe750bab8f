import { hostname } from 'node:os';
import convict from 'convict';
import {
  ConfigError, deviceSecretStrengthProblem, httpServerLimitsProblems, httpServerLimitsSchema, loadConfig, logLevelSchema, logSamplingProblems, logSamplingSchema,
  postgresConfigProblems, postgresConfigSchema, redisConfigSchema, tokenStrengthProblem, tracingProblems, tracingSchema, type HttpServerLimits, type LogSamplingConfig, type TracingConfig, type PostgresConfig,
  type RedisConfig,
} from '@outbound/core/service';

/** The ingress service's configuration (docs/ingress.md lists every environment name). */
export interface IngressConfig {
  logLevel: string;
  /** Sampling of success log lines (access log, command transitions). */
  log: LogSamplingConfig;
  /** OpenTelemetry tracing (the standard OTEL_* variables); off unless an exporter or endpoint is set. */
  tracing: TracingConfig;
  replicaId: string;
  tcp: {
    host: string;
    port: number;
    tlsCertFile: string;
    tlsKeyFile: string;
    maxConnections: number;
    maxFrameBytes: number;
    writeHighWaterBytes: number;
  };
  http: { host: string; port: number; advertiseUrl: string; bodyLimitBytes: number; deliveryStream: boolean } & HttpServerLimits;
  auth: { mode: 'hmac' | 'none'; secrets: string[]; legacyTokenAuth: boolean };
  internalToken: string;
  timing: { heartbeatSeconds: number; handshakeTimeoutMs: number; idleTimeoutMs: number; errorLingerMs: number };
  drain: { graceMs: number; reconnectSpreadMs: number };
  /** Handshake rate limits, shared by every replica through the registry's store; 0 points turns one off. */
  limits: {
    handshakesPerIp: number;
    handshakesPerIpWindowSeconds: number;
    handshakesPerPhyId: number;
    handshakesPerPhyIdWindowSeconds: number;
    supersedeStormCount: number;
    supersedeStormWindowSeconds: number;
    supersedeLockoutSeconds: number;
  };
  /** `backend` is QUEUE_BACKEND: the route registry lives where the dispatchers keep the queue. */
  registry: { backend: 'redis' | 'postgres'; prefix: string; shards: number; heartbeatIntervalMs: number; heartbeatTtlMs: number };
  redis: RedisConfig;
  /** QUEUE_BACKEND=postgres: DATABASE_URL, pool and migrations (the same names as the dispatcher). */
  postgres: PostgresConfig;
}

const nat = (doc: string, def: number, env: string) => ({ doc, format: 'nat', default: def, env }) as const;

/** Defaults, then INGRESS_CONFIG_FILE (JSON), then environment variables. */
export const ingressConfigSchema: convict.Schema<IngressConfig> = {
  logLevel: logLevelSchema,
  log: logSamplingSchema,
  tracing: tracingSchema,
  replicaId: { doc: 'this replica\'s id in the route registry (default: hostname-pid)', format: String, default: '', env: 'INGRESS_REPLICA_ID' },
  tcp: {
    host: { doc: 'device listener bind address', format: String, default: '0.0.0.0', env: 'INGRESS_TCP_HOST' },
    port: { doc: 'device listener port (0: any free port)', format: 'port', default: 7000, env: 'INGRESS_TCP_PORT' },
    tlsCertFile: { doc: 'PEM certificate; with INGRESS_TLS_KEY_FILE the listener speaks TLS', format: String, default: '', env: 'INGRESS_TLS_CERT_FILE' },
    tlsKeyFile: { doc: 'PEM private key for INGRESS_TLS_CERT_FILE', format: String, default: '', env: 'INGRESS_TLS_KEY_FILE' },
    maxConnections: nat('device connections held at once; more get ERROR BUSY', 60_000, 'INGRESS_MAX_CONNECTIONS'),
    maxFrameBytes: nat('largest frame body a device may send (TOO_LARGE above); also caps COMMAND payloads', 65_536, 'INGRESS_MAX_FRAME_BYTES'),
    writeHighWaterBytes: nat('bytes queued for a device that does not read before it is disconnected', 1_048_576, 'INGRESS_WRITE_HIGH_WATER_BYTES'),
  },
  http: {
    host: { doc: 'internal delivery API bind address', format: String, default: '0.0.0.0', env: 'INGRESS_HTTP_HOST' },
    port: { doc: 'internal delivery API port (0: any free port)', format: 'port', default: 8081, env: 'INGRESS_HTTP_PORT' },
    advertiseUrl: { doc: 'delivery base URL dispatchers use (default: http://127.0.0.1:<http port>)', format: String, default: '', env: 'INGRESS_ADVERTISE_URL' },
    bodyLimitBytes: nat('largest delivery request body (413 above), and largest batch line on a delivery stream', 16 * 1024 * 1024, 'INGRESS_BODY_LIMIT_BYTES'),
    deliveryStream: {
      doc: 'accept delivery streams (GET /internal/v1/delivery-stream upgraded to outbound-delivery/1: one connection per dispatcher carrying every batch); false: dispatchers use the batch endpoint',
      format: Boolean,
      default: true,
      env: 'INGRESS_DELIVERY_STREAM',
    },
    // Only dispatchers call it (32 pooled connections each) and Prometheus scrapes it.
    ...httpServerLimitsSchema('INGRESS_HTTP', 2_000),
  },
  auth: {
    mode: { doc: 'device auth: hmac, or none (must be set explicitly)', format: ['hmac', 'none'], default: 'hmac', env: 'DEVICE_AUTH_MODE' },
    secrets: { doc: 'fleet secrets, comma-separated (several during a rotation); a device without a provisioned key uses HMAC-SHA256(secret, phyId)', format: 'string-list', default: [], env: 'DEVICE_AUTH_SECRETS', sensitive: true },
    legacyTokenAuth: {
      doc: 'also accept the v1 static-token HELLO (a captured HELLO impersonates the device; migration only)',
      format: Boolean,
      default: false,
      env: 'INGRESS_LEGACY_TOKEN_AUTH',
    },
  },
  internalToken: { doc: 'bearer token every /internal route requires', format: String, default: '', env: 'INTERNAL_TOKEN', sensitive: true },
  timing: {
    heartbeatSeconds: nat('heartbeat interval announced in WELCOME (1..65535)', 30, 'INGRESS_HEARTBEAT_SECONDS'),
    handshakeTimeoutMs: nat('from accept, the TLS handshake, HELLO2 and PROOF must all complete within this long', 10_000, 'INGRESS_HANDSHAKE_TIMEOUT_MS'),
    idleTimeoutMs: nat('silence that closes a connection (0: 2.5 heartbeat intervals)', 0, 'INGRESS_IDLE_TIMEOUT_MS'),
    errorLingerMs: nat('after an ERROR, how long the socket may take to flush before it is destroyed', 1_000, 'INGRESS_ERROR_LINGER_MS'),
  },
  drain: {
    graceMs: nat('SIGTERM: longest drain before the process exits', 30_000, 'INGRESS_SHUTDOWN_GRACE_MS'),
    reconnectSpreadMs: nat('GOAWAY reconnect-after is drawn from 0..this, so a drain does not cause a reconnect storm', 10_000, 'INGRESS_GOAWAY_SPREAD_MS'),
  },
  limits: {
    handshakesPerIp: nat('handshakes (HELLO2 or HELLO) one source address may start per window, all replicas together; 0: no limit', 500, 'INGRESS_HANDSHAKES_PER_IP'),
    handshakesPerIpWindowSeconds: nat('window of INGRESS_HANDSHAKES_PER_IP, seconds', 10, 'INGRESS_HANDSHAKES_PER_IP_WINDOW_S'),
    handshakesPerPhyId: nat('handshakes one phyId may start per window, all replicas together; 0: no limit', 20, 'INGRESS_HANDSHAKES_PER_PHY_ID'),
    handshakesPerPhyIdWindowSeconds: nat('window of INGRESS_HANDSHAKES_PER_PHY_ID, seconds', 60, 'INGRESS_HANDSHAKES_PER_PHY_ID_WINDOW_S'),
    supersedeStormCount: nat('a phyId superseded more than this many times within the window is locked out; 0: no lockout', 5, 'INGRESS_SUPERSEDE_STORM_COUNT'),
    supersedeStormWindowSeconds: nat('window of INGRESS_SUPERSEDE_STORM_COUNT, seconds', 60, 'INGRESS_SUPERSEDE_STORM_WINDOW_S'),
    supersedeLockoutSeconds: nat('how long a phyId in a supersede storm is answered RATE_LIMITED, seconds', 300, 'INGRESS_SUPERSEDE_LOCKOUT_S'),
  },
  registry: {
    backend: { doc: 'route registry store: redis or postgres (the same on every ingress and dispatcher)', format: ['redis', 'postgres'], default: 'redis', env: 'QUEUE_BACKEND' },
    prefix: { doc: 'route registry key prefix (Redis) or schema (PostgreSQL); the same on every ingress and dispatcher', format: String, default: 'outbound', env: 'REGISTRY_PREFIX' },
    shards: nat('route registry shards (Redis); the same on every ingress and dispatcher', 16, 'REGISTRY_SHARDS'),
    heartbeatIntervalMs: nat('how often this replica refreshes its liveness', 2_000, 'REGISTRY_HEARTBEAT_INTERVAL_MS'),
    heartbeatTtlMs: nat('liveness lapses this long after the last refresh (its routes then read offline)', 10_000, 'REGISTRY_HEARTBEAT_TTL_MS'),
  },
  redis: redisConfigSchema,
  postgres: postgresConfigSchema,
};

/** Loads, validates and completes the configuration; ConfigError has one line per problem. */
export function loadIngressConfig(
  options: { env?: NodeJS.ProcessEnv; overrides?: Partial<Record<string, unknown>> } = {},
): { config: Readonly<IngressConfig>; redacted: Record<string, unknown> } {
  const { config, redacted } = loadConfig(ingressConfigSchema, { ...options, configFileEnv: 'INGRESS_CONFIG_FILE' });
  const problems = postgresConfigProblems(config.registry.backend, config.postgres);
  problems.push(...logSamplingProblems(config.log), ...tracingProblems(config.tracing));
  if (!config.internalToken) problems.push('internalToken: INTERNAL_TOKEN is required (the bearer token of the delivery API)');
  else pushIf(problems, tokenStrengthProblem('internalToken: INTERNAL_TOKEN', config.internalToken));
  if (config.auth.mode === 'hmac' && config.auth.secrets.length === 0) problems.push('auth.secrets: DEVICE_AUTH_SECRETS is required when DEVICE_AUTH_MODE=hmac');
  config.auth.secrets.forEach((secret, index) => pushIf(problems, deviceSecretStrengthProblem(`auth.secrets: DEVICE_AUTH_SECRETS entry ${index + 1}`, secret)));
  if (config.timing.heartbeatSeconds < 1 || config.timing.heartbeatSeconds > 0xffff) problems.push(`timing.heartbeatSeconds: must be 1..65535: value was ${config.timing.heartbeatSeconds}`);
  if (config.timing.handshakeTimeoutMs < 1) problems.push('timing.handshakeTimeoutMs: must be at least 1');
  if (Boolean(config.tcp.tlsCertFile) !== Boolean(config.tcp.tlsKeyFile)) problems.push('tcp.tlsCertFile/tlsKeyFile: set both INGRESS_TLS_CERT_FILE and INGRESS_TLS_KEY_FILE, or neither');
  if (config.registry.shards < 1) problems.push('registry.shards: must be at least 1');
  problems.push(...httpServerLimitsProblems('http', config.http));
  for (const key of ['handshakesPerIpWindowSeconds', 'handshakesPerPhyIdWindowSeconds', 'supersedeStormWindowSeconds', 'supersedeLockoutSeconds'] as const) {
    if (config.limits[key] < 1) problems.push(`limits.${key}: must be at least 1 second: value was ${config.limits[key]}`);
  }
  if (config.registry.heartbeatTtlMs <= config.registry.heartbeatIntervalMs) problems.push(`registry.heartbeatTtlMs: must exceed registry.heartbeatIntervalMs (${config.registry.heartbeatIntervalMs}): value was ${config.registry.heartbeatTtlMs}`);
  if (config.http.advertiseUrl) {
    try {
      new URL(config.http.advertiseUrl);
    } catch {
      problems.push(`http.advertiseUrl: INGRESS_ADVERTISE_URL must be a URL: value was ${config.http.advertiseUrl}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const replicaId = config.replicaId || `${hostname()}-${process.pid}`;
  const completed = Object.freeze({ ...config, replicaId });
  return { config: completed, redacted: { ...redacted, replicaId } };
}

function pushIf(problems: string[], problem: string | undefined): void {
  if (problem) problems.push(problem);
}

/** The idle timeout in force: configured, or 2.5 heartbeat intervals (docs/protocol.md). */
export function idleTimeoutMs(config: IngressConfig): number {
  return config.timing.idleTimeoutMs || config.timing.heartbeatSeconds * 2_500;
}
