import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createLimitedServer, createLogger, createMetricsRegistry, packageVersion, Tracing, type CommandQueue, type CredentialStore, type Logger, type RouteRegistry, type StoreError } from '@outbound/core';
import { createApp } from './app';
import { createBackend, type Backend } from './backend';
import { CompletionWaiter } from './completion-waiter';
import { apiRateLimit } from './api-rate-limit';
import { apiKeyLimits, parseApiKeys, type DispatcherConfig } from './config';
import { DeliveryClient } from './delivery-client';
import { DeviceResumer } from './device-resumer';
import { DispatcherHeartbeat } from './dispatcher-heartbeat';
import { RouteCache } from './route-cache';
import { DispatchLoop } from './dispatch-loop';
import { HopTimer } from './hop-timer';
import { createLeaseReaper } from './lease-reaper';
import { createRetentionTrimmer } from './retention-trimmer';
import { createDispatcherMetrics, type DispatcherMetrics } from './metrics';
import { OutcomeRecorder } from './outcome-recorder';
import { guardStore } from './store-guard';
import { TransitionLog } from './transition-log';
import { AttemptSpans } from './tracing';
import { WebhookSender } from './webhooks/sender';
import { WebhookWorker } from './webhooks/worker';

/** True at most once per `everyMs` (a warn line per refused request would flood the log under load). */
class Throttle {
  private last = 0;
  constructor(private readonly everyMs: number) {}
  ready(): boolean {
    const now = Date.now();
    if (now - this.last < this.everyMs) return false;
    this.last = now;
    return true;
  }
}

/** A running dispatcher: its public API port and its parts (tests reach into them). */
export interface RunningDispatcher {
  httpPort: number;
  url: string;
  /** Its id in the liveness record (GET /v1/cluster). */
  dispatcherId: string;
  app: Express;
  server: Server;
  queue: CommandQueue;
  registry: RouteRegistry;
  credentials: CredentialStore;
  loop: DispatchLoop | null;
  resumer: DeviceResumer | null;
  /** Webhook delivery (null: WEBHOOKS_ENABLED=false). */
  webhooks: WebhookWorker | null;
  metrics: DispatcherMetrics;
  logger: Logger;
  /** Stops in order: not ready, no new claims, HTTP drained, in-flight finished or released, stores closed. */
  stop(): Promise<void>;
}

/**
 * Starts the public API and (unless `worker.enabled` is false) the delivery worker, the lease
 * reaper and the device resumer. main.ts adds signals; tests call this directly.
 */
export async function startDispatcher(config: Readonly<DispatcherConfig>, options: { logger?: Logger; backend?: Backend } = {}): Promise<RunningDispatcher> {
  const logger = options.logger ?? createLogger({ service: 'dispatcher', level: config.logLevel });
  const backend = options.backend ?? (await createBackend(config));
  const version = packageVersion(__dirname);
  const metricsRegistry = createMetricsRegistry('dispatcher', { version });
  const tracing = await Tracing.create(config.tracing, { name: 'dispatcher', version });
  // Every store failure is counted here and only here (the guard sees each store call once).
  const fullLog = new Throttle(1_000);
  const onStoreError = (operation: string, error: StoreError) => {
    metrics.storeErrors.inc({ backend: error.backend, kind: error.kind });
    if (error.kind === 'full' && fullLog.ready()) logger.warn({ operation, err: error, details: error.details }, 'store is full: enqueue refused (STORE_FULL) while the queue drains');
  };
  const queue = guardStore(backend.queue, onStoreError);
  const registry = guardStore(backend.registry, onStoreError);
  const credentials = guardStore(backend.credentials, onStoreError);
  const webhookStore = guardStore(backend.webhooks, onStoreError);
  const streamsClosing = new AbortController();
  // `loop` is assigned below; the gauge reads it only at scrape time.
  const metrics = createDispatcherMetrics(metricsRegistry, queue, () => loop?.maxInFlightForOneDevice() ?? 0, () => backend.memoryRatio());
  backend.registerMetrics(metricsRegistry);
  const waiter = new CompletionWaiter();
  const hops = config.worker.hopTiming ? new HopTimer(metricsRegistry) : undefined;
  let ready = false;

  const app = createApp({
    queue, registry, credentials, waiter, metrics, metricsRegistry, logger,
    webhooks: webhookStore,
    eventStreams: { keepaliveMs: config.api.eventsKeepaliveMs, closing: streamsClosing.signal },
    apiKeys: parseApiKeys(config.apiKeys),
    isReady: () => ready,
    checks: backend.checks,
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxWaitMs: config.api.maxWaitMs,
    batchMax: config.api.batchMax,
    enqueueConcurrency: config.api.enqueueConcurrency,
    rateLimit: apiRateLimit({
      factory: backend.rateLimiter,
      limits: apiKeyLimits(config),
      windowSeconds: config.rateLimit.windowSeconds,
      storeWaitMs: config.rateLimit.storeWaitMs,
      onLimited: (role) => metrics.rateLimited.inc({ role }),
      logger,
    }),
    logSampling: config.log,
    tracing,
    ...(hops ? { hops } : {}),
  });

  let loop: DispatchLoop | null = null;
  let resumer: DeviceResumer | null = null;
  let routes: RouteCache | null = null;
  let reaper: ReturnType<typeof createLeaseReaper> | null = null;
  let trimmer: ReturnType<typeof createRetentionTrimmer> | null = null;
  const client = new DeliveryClient({
    internalToken: config.internalToken,
    hopTiming: config.worker.hopTiming,
    stream: config.worker.deliveryStream,
    logger: logger.child({ component: 'delivery-client' }),
  });
  const recorder = new OutcomeRecorder(queue, logger, { flushMs: config.worker.outcomeFlushMs });
  if (config.worker.enabled) {
    const w = config.worker;
    routes = new RouteCache(registry, { ttlMs: w.routeCacheMs, maxAgeMs: w.routeMaxAgeMs, maxEntries: 100_000 });
    await routes.start();
    loop = new DispatchLoop(
      { queue, registry, routes, client, recorder, metrics, waiter, logger: logger.child({ component: 'dispatch-loop' }), transitions: new TransitionLog(metricsRegistry, config.log), ...(hops ? { hops } : {}), ...(tracing.enabled ? { spans: new AttemptSpans(tracing) } : {}) },
      { claimBatch: w.claimBatch, maxInFlight: w.maxInFlight, leaseMs: w.leaseMs, leaseMarginMs: w.leaseMarginMs, idleWaitMs: w.idleWaitMs, claimOnEnqueue: w.claimOnEnqueue, deliveryBatchMax: w.deliveryBatchMax },
    );
    const wake = () => loop?.notify();
    resumer = new DeviceResumer({ queue, registry, metrics, logger: logger.child({ component: 'device-resumer' }), checkMs: w.parkedCheckMs, onResume: wake });
    reaper = createLeaseReaper({ queue, metrics, logger: logger.child({ component: 'lease-reaper' }), intervalMs: w.reapIntervalMs, onWork: wake });
    await resumer.start();
    reaper.start();
    trimmer = createRetentionTrimmer({ queue, metrics, logger: logger.child({ component: 'retention-trimmer' }), intervalMs: w.trimIntervalMs });
    trimmer.start();
    loop.start();
  }

  let webhooks: WebhookWorker | null = null;
  const sender = new WebhookSender({ timeoutMs: config.webhooks.timeoutMs });
  if (config.webhooks.enabled) {
    const h = config.webhooks;
    webhooks = new WebhookWorker(
      { events: queue, store: webhookStore, sender, metrics, logger: logger.child({ component: 'webhooks' }) },
      { pollMs: h.pollMs, leaseMs: h.leaseMs, retryBaseMs: h.retryBaseMs, retryMaxMs: h.retryMaxMs, giveUpMs: h.giveUpMs, window: h.window, pageSize: 200 },
    );
    webhooks.start();
  }

  // Before the listen: between listen and ready, /readyz would answer 503 to a waiting prober.
  const heartbeat = new DispatcherHeartbeat({ registry, logger: logger.child({ component: 'dispatcher-heartbeat' }) }, config.liveness);
  await heartbeat.start();

  const server = createLimitedServer(app, config.http);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const httpPort = (server.address() as AddressInfo).port;
  ready = true;
  logger.info({ httpPort, worker: config.worker.enabled, dispatcherId: config.liveness.id }, 'dispatcher started');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      waiter.close();
      const httpClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Live streams never finish on their own; their clients resume elsewhere with Last-Event-ID.
      streamsClosing.abort();
      await loop?.stop(config.shutdown.graceMs);
      await Promise.all([resumer?.stop(), reaper?.stop(), trimmer?.stop(), routes?.stop(), webhooks?.stop(), heartbeat.stop()]);
      // A keep-alive connection whose answer ended after close() began (a stream, a long-poll)
      // sits idle until its keep-alive timeout unless closed as well; past the grace period,
      // whatever is still open is cut.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), config.shutdown.graceMs);
      await httpClosed.finally(() => {
        clearInterval(idle);
        clearTimeout(cut);
      });
      await client.close();
      await sender.close();
      await backend.close();
      await tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'sending the last spans failed'));
      logger.info('dispatcher stopped');
    })();
    return stopping;
  };

  return { httpPort, url: `http://127.0.0.1:${httpPort}`, dispatcherId: config.liveness.id, app, server, queue, registry, credentials, loop, resumer, webhooks, metrics, logger, stop };
}
