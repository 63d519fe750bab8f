export { createLogger, type Logger } from './logger';
export { loadConfig, ConfigError } from './config';
export { redisConfigSchema, toRedisConnectionOptions, logLevelSchema, type RedisConfig } from './config-schemas';
export { createMetricsRegistry } from './metrics';
export { healthRoutes, type DependencyCheck, type HealthRoutesOptions } from './health-routes';
export { errorHandler, notFoundHandler, requireJsonBody, retryAfterSeconds, sendProblem } from './http-errors';
export { installShutdown, type ShutdownStep } from './shutdown';
export { postgresConfigSchema, postgresConfigProblems, type PostgresConfig } from './postgres-config';
