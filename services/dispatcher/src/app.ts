import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { CommandQueue } from '@outbound/core/queue';
import type { RouteRegistry } from '@outbound/core/registry';
import { errorHandler, healthRoutes, notFoundHandler, requireJsonBody, type DependencyCheck, type Logger } from '@outbound/core/service';
import { registerAdminRoutes } from './admin-routes';
import { requireRole } from './api-auth';
import { registerCommandRoutes } from './command-routes';
import { EnqueueCoalescer } from './enqueue-coalescer';
import type { CompletionWaiter } from './completion-waiter';
import type { ApiRole } from './config';
import type { DispatcherMetrics } from './metrics';
import { openApiDocument } from './openapi';

export interface AppDeps {
  /** The queue layer (ValidatedQueue), already wrapped by guardStore so an unreachable store answers 503. */
  queue: CommandQueue;
  registry: RouteRegistry;
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
}

/** The dispatcher's HTTP app: public API, OpenAPI document, health and metrics. It listens on nothing (main.ts does). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requireJsonBody, express.json({ limit: deps.bodyLimitBytes }));

  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  app.use(healthRoutes({ isReady: deps.isReady, checks: deps.checks, registry: deps.metricsRegistry }));

  registerCommandRoutes(app, {
    queue: deps.queue,
    enqueuer: new EnqueueCoalescer(deps.queue, { concurrency: deps.enqueueConcurrency, maxBatch: deps.batchMax }),
    waiter: deps.waiter,
    metrics: deps.metrics,
    maxWaitMs: deps.maxWaitMs,
    batchMax: deps.batchMax,
    guard: requireRole(deps.apiKeys, 'send'),
  });
  registerAdminRoutes(app, { queue: deps.queue, registry: deps.registry, guard: requireRole(deps.apiKeys, 'admin') });

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
