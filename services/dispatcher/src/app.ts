import express, { type Express, type RequestHandler } from 'express';
import type { Registry } from 'prom-client';
import type { CommandQueue } from '@outbound/core/queue';
import type { CredentialStore, RouteRegistry } from '@outbound/core/registry';
import {
  errorHandler, healthRoutes, notFoundHandler, requestObserver, requireJsonBody, tracedRequests, type DependencyCheck, type Logger, type LogSamplingConfig, type Tracing,
} from '@outbound/core/service';
import { registerAdminRoutes } from './admin-routes';
import { authenticate, requireRole } from './api-auth';
import { registerCommandRoutes } from './command-routes';
import { registerConsoleRoutes } from './console-routes';
import { registerCredentialRoutes } from './credential-routes';
import { EnqueueCoalescer } from './enqueue-coalescer';
import { hotRoutes, type HotRoutes } from './hot-routes';
import type { CompletionWaiter } from './completion-waiter';
import type { ApiRole } from './config';
import { registerEventRoutes } from './events/event-routes';
import type { HopTimer } from './hop-timer';
import type { DispatcherMetrics } from './metrics';
import { buildOpenApiDocument } from './openapi';
import { registerWebhookRoutes } from './webhooks/routes';
import type { WebhookStore } from './webhooks/store';
import { TransitionLog } from './transition-log';

export interface AppDeps {
  /** The queue layer (ValidatedQueue), already wrapped by guardStore so an unreachable store answers 503. */
  queue: CommandQueue;
  registry: RouteRegistry;
  /** Per-device keys and revocations (admin routes), wrapped like the queue. */
  credentials: CredentialStore;
  /** Webhooks (admin routes), wrapped like the queue. */
  webhooks: WebhookStore;
  apiKeys: ReadonlyMap<string, ApiRole>;
  waiter: CompletionWaiter;
  metrics: DispatcherMetrics;
  metricsRegistry: Registry;
  logger: Logger;
  isReady: () => boolean;
  checks: Record<string, () => Promise<DependencyCheck>>;
  bodyLimitBytes: number;
  maxWaitMs: number;
  batchMax: number;
  /** Enqueue store calls in flight at once; requests beyond share the next call (EnqueueCoalescer). */
  enqueueConcurrency: number;
  /** Per-API-key rate limit; runs after authentication, before the body is read. */
  rateLimit: RequestHandler;
  /** Access-log and enqueue-line sampling of success lines (default: every line). */
  logSampling?: LogSamplingConfig;
  /** Spans for API requests and enqueues (off: none). */
  tracing?: Tracing;
  /** Per-hop timing (DISPATCHER_HOP_TIMING): enqueue requests are timed too. */
  hops?: HopTimer;
  /** Live event streams: keepalive period, and the signal that ends them all when the server stops. */
  eventStreams: { keepaliveMs: number; closing: AbortSignal };
}

/** The dispatcher's HTTP app: public API, OpenAPI document, health and metrics. It listens on nothing (main.ts does). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const { hops } = deps;
  // First of all, so the enqueue hops count the whole of the app's work on a request.
  if (hops) {
    app.use((_req, res, next) => {
      res.locals.receivedAt = hops.now();
      next();
    });
  }
  app.use(requestObserver({ logger: deps.logger, registry: deps.metricsRegistry, sampling: deps.logSampling }));
  // Authentication and the rate limit come before the body parser: a caller without a key, or
  // over its limit, costs headers only. A body that is not JSON answers 415 before it is read.
  const v1: RequestHandler[] = [
    ...(deps.tracing?.enabled ? [tracedRequests(deps.tracing)] : []),
    authenticate(deps.apiKeys), deps.rateLimit, requireJsonBody, express.json({ limit: deps.bodyLimitBytes }),
  ];
  // The enqueue routes, served with the same /v1 middleware without walking the router; filled below.
  const hot: HotRoutes = new Map();
  app.use(hotRoutes(v1, hot));

  const openApi = buildOpenApiDocument({ maxWaitMs: deps.maxWaitMs, batchMax: deps.batchMax });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use(healthRoutes({ isReady: deps.isReady, checks: deps.checks, registry: deps.metricsRegistry }));
  registerConsoleRoutes(app);
  app.use('/v1', ...v1);

  const enqueueRoutes = registerCommandRoutes(app, {
    queue: deps.queue,
    enqueuer: new EnqueueCoalescer(deps.queue, { concurrency: deps.enqueueConcurrency, maxBatch: deps.batchMax }),
    waiter: deps.waiter,
    registry: deps.registry,
    metrics: deps.metrics,
    maxWaitMs: deps.maxWaitMs,
    batchMax: deps.batchMax,
    guard: requireRole('send'),
    transitions: new TransitionLog(deps.metricsRegistry, deps.logSampling),
    logger: deps.logger,
    tracing: deps.tracing,
    ...(hops ? { hops } : {}),
  });
  for (const [path, handlers] of enqueueRoutes) hot.set(path, handlers);
  registerEventRoutes(app, { events: deps.queue, guard: requireRole('send'), metrics: deps.metrics, logger: deps.logger, ...deps.eventStreams });
  registerWebhookRoutes(app, { store: deps.webhooks, events: deps.queue, guard: requireRole('admin') });
  registerAdminRoutes(app, { queue: deps.queue, registry: deps.registry, credentials: deps.credentials, guard: requireRole('admin') });
  registerCredentialRoutes(app, { credentials: deps.credentials, guard: requireRole('admin') });

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
