export { createLogger, type Logger } from './logger';
export { loadConfig, ConfigError } from './config';
export {
  redisConfigSchema, toRedisConnectionOptions, logLevelSchema, tokenStrengthProblem, deviceSecretStrengthProblem, MIN_TOKEN_CHARS, MIN_DEVICE_SECRET_BYTES,
  type RedisConfig,
} from './config-schemas';
export { createMetricsRegistry, packageVersion, type BuildInfo } from './metrics';
export { healthRoutes, type DependencyCheck, type HealthRoutesOptions } from './health-routes';
export { errorHandler, notFoundHandler, requireJsonBody, retryAfterSeconds, sendProblem } from './http-errors';
export { installShutdown, type ShutdownStep } from './shutdown';
export { postgresConfigSchema, postgresConfigProblems, type PostgresConfig } from './postgres-config';
export { createLimitedServer, httpServerLimitsSchema, httpServerLimitsProblems, closeIfBodyUnread, type HttpServerLimits } from './http-server';
export { LogSampler, logSamplingSchema, logSamplingProblems, type LogSamplingConfig } from './log-sampler';
export { requestObserver, requestIdFor, requestLogger, routeOf, logLinesDroppedCounter, REQUEST_ID_HEADER, type RequestObserverOptions } from './request-observer';
export { Tracing, tracedRequests, requestSpan, tracingSchema, tracingProblems, tracingEnabled, tracesUrl, traceIdOf, SpanKind, SpanStatusCode, type Span, type SpanParent, type StartSpanOptions, type TracingConfig } from './tracing';
