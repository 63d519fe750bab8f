import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A registry per service instance (never the global one, so tests can run several services
 * in one process) with Node's default process metrics and `service` as a default label.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
