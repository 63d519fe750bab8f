import { Router, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';

export interface DependencyCheck {
  status: 'ok' | 'degraded' | 'down';
  latencyMs?: number | null;
  [detail: string]: unknown;
}

export interface HealthRoutesOptions {
  /** True once the service takes traffic; false while starting and draining. */
  isReady: () => boolean;
  /** Each dependency's check (Redis, PostgreSQL, ...). `down` fails /readyz. */
  checks: Record<string, () => Promise<DependencyCheck>>;
  registry: Registry;
  /** A check not answered in this time is `down`, so /readyz and /health answer within a second even when a store stalls. Default 800 ms. */
  checkTimeoutMs?: number;
}

async function runChecks(checks: HealthRoutesOptions['checks'], timeoutMs: number): Promise<Record<string, DependencyCheck>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<DependencyCheck>((resolve) => {
        timer = setTimeout(() => resolve({ status: 'down', latencyMs: null, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      try {
        return [name, await Promise.race([check(), late])] as const;
      } catch (error) {
        return [name, { status: 'down', error: (error as Error).message } as DependencyCheck] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * `/healthz` (alive), `/readyz` (ready for traffic: started, not draining, no dependency down;
 * a `degraded` dependency, e.g. a store at its memory high-water mark, is named but stays ready),
 * `/health` (each dependency's status, latency and details) and `/metrics` (Prometheus text).
 */
export function healthRoutes(options: HealthRoutesOptions): Router {
  const router = Router();
  const timeoutMs = options.checkTimeoutMs ?? 800;
  router.get('/healthz', (_req: Request, res: Response) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req: Request, res: Response) => {
    if (!options.isReady()) {
      res.status(503).json({ status: 'not_ready' });
      return;
    }
    const results = await runChecks(options.checks, timeoutMs);
    const named = (status: DependencyCheck['status']) => Object.entries(results).filter(([, r]) => r.status === status).map(([name]) => name);
    const down = named('down');
    res.status(down.length ? 503 : 200).json({ status: down.length ? 'not_ready' : 'ready', down, degraded: named('degraded') });
  });
  router.get('/health', async (_req: Request, res: Response) => {
    const results = await runChecks(options.checks, timeoutMs);
    const statuses = Object.values(results).map((r) => r.status);
    const status = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'ok';
    res.status(status === 'down' ? 503 : 200).json({ status, ready: options.isReady(), checks: results });
  });
  router.get('/metrics', async (_req: Request, res: Response) => {
    res.set('Content-Type', options.registry.contentType).send(await options.registry.metrics());
  });
  return router;
}
