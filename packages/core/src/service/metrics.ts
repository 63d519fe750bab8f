import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** What `outbound_build_info` reports: the service's package version and the commit it was built from. */
export interface BuildInfo {
  version: string;
  /** Default: OUTBOUND_COMMIT (set by the image build), else "unknown". */
  commit?: string;
}

/**
 * A registry per service instance (never the global one, so tests can run several services
 * in one process) with Node's default process metrics (event-loop lag included:
 * `nodejs_eventloop_lag_seconds`, `nodejs_eventloop_lag_p99_seconds`, ...), `service` as a
 * default label, and `outbound_build_info{version,commit} 1` when `build` is given.
 */
export function createMetricsRegistry(service: string, build?: BuildInfo): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  if (build) {
    const info = new Gauge({
      name: 'outbound_build_info',
      help: 'Always 1; the labels say which version and commit this process runs',
      labelNames: ['version', 'commit'],
      registers: [registry],
    });
    info.set({ version: build.version, commit: build.commit ?? (process.env.OUTBOUND_COMMIT || 'unknown') }, 1);
  }
  return registry;
}

/**
 * The `version` of the package.json one directory above `dir` (a service's `src` or `dist`),
 * "unknown" when it cannot be read.
 */
export function packageVersion(dir: string): string {
  try {
    const { version } = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
