import express, { type Express } from 'express';
import { errorHandler, healthRoutes, notFoundHandler, requireJsonBody, type DependencyCheck, type Logger } from '@outbound/core/service';
import type { Registry } from 'prom-client';
import { deliveryRoutes } from './delivery-routes';
import type { DeliveryTracker } from './delivery-tracker';

export interface IngressAppOptions {
  tracker: DeliveryTracker;
  internalToken: string;
  bodyLimitBytes: number;
  maxFrameBytes: number;
  isReady: () => boolean;
  checks: Record<string, () => Promise<DependencyCheck>>;
  registry: Registry;
  logger: Logger;
}

/**
 * The ingress' internal HTTP app: health and metrics (no token) and the delivery API
 * (bearer token). Listens on nothing: main.ts or startIngress() binds it, supertest drives it.
 */
export function createIngressApp(options: IngressAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(requireJsonBody);
  app.use(healthRoutes({ isReady: options.isReady, checks: options.checks, registry: options.registry }));
  app.use(deliveryRoutes(options));
  app.use(notFoundHandler);
  app.use(errorHandler(options.logger));
  return app;
}
