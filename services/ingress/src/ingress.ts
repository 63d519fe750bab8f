import type { Server } from 'node:http';
import type { Express } from 'express';
import { toError } from '@outbound/core/command';
import type { CredentialStore, RouteRegistry } from '@outbound/core/registry';
import { createLimitedServer, createLogger, packageVersion, Tracing, type Logger } from '@outbound/core/service';
import { createIngressApp } from './app';
import { idleTimeoutMs, type IngressConfig } from './config';
import { DeliveryStreamServer } from './delivery-stream';
import { DeliveryTracker } from './delivery-tracker';
import { IngressMetrics } from './metrics';
import { DeviceAuthenticator } from './device-auth';
import { effectiveMaxConnections, openFileLimit } from './file-limit';
import { HandshakeLimits } from './handshake-limits';
import { createRouteRegistry } from './registry-factory';
import { ReplicaHeartbeat } from './replica-heartbeat';
import { DeviceServer, type RouteHooks } from './tcp-server';
import { DeviceSpans } from './tracing';

/** A running ingress: the ports it actually bound, and the two ways to end it. */
export interface IngressHandle {
  tcpPort: number;
  httpPort: number;
  replicaId: string;
  /** The delivery base URL recorded in the registry. */
  address: string;
  /** The express app (supertest can drive it in-process). */
  app: Express;
  metrics: IngressMetrics;
  registry: RouteRegistry;
  credentials: CredentialStore;
  devices: DeviceServer;
  /**
   * SIGTERM's sequence: readiness false, listener closed, GOAWAY to every device (jittered
   * reconnect-after), in-flight deliveries answered or timed out, routes removed, HTTP closed.
   */
  drain(): Promise<void>;
  /** Immediate stop (tests): connections cut, routes removed best-effort. */
  stop(): Promise<void>;
}

/**
 * Starts an ingress replica in this process: HTTP (delivery API, health, metrics) first so
 * its address is known, then liveness in the registry, the superseded subscription, and last
 * the device listener.
 */
export async function startIngress(config: IngressConfig, options: { logger?: Logger } = {}): Promise<IngressHandle> {
  const logger = options.logger ?? createLogger({ service: 'ingress', level: config.logLevel });
  const metrics = new IngressMetrics();
  const store = await createRouteRegistry(config);
  const { registry, credentials } = store;
  let ready = false;
  if (config.auth.legacyTokenAuth) {
    logger.warn('INGRESS_LEGACY_TOKEN_AUTH=true: the v1 static-token HELLO is accepted; a HELLO captured on the network impersonates its device. Move devices to HELLO2 and turn it off');
  }
  const connectionLimit = effectiveMaxConnections(config.tcp.maxConnections, openFileLimit());
  if (connectionLimit.clampedFrom !== undefined) {
    logger.warn(
      { configured: connectionLimit.clampedFrom, maxConnections: connectionLimit.maxConnections, openFileLimit: connectionLimit.fileLimit },
      'INGRESS_MAX_CONNECTIONS is above what this process can open (ulimit -n, less a reserve for the store, HTTP and logs): clamped; raise the file limit to hold more devices',
    );
  }
  metrics.maxConnections.set(connectionLimit.maxConnections);
  const l = config.limits;
  const limits = new HandshakeLimits(store.limiterStore, {
    perIp: { points: l.handshakesPerIp, windowSeconds: l.handshakesPerIpWindowSeconds },
    perPhyId: { points: l.handshakesPerPhyId, windowSeconds: l.handshakesPerPhyIdWindowSeconds },
    supersedeStorm: { points: l.supersedeStormCount, windowSeconds: l.supersedeStormWindowSeconds, lockoutSeconds: l.supersedeLockoutSeconds },
  });
  const authenticator = new DeviceAuthenticator({
    mode: config.auth.mode,
    secrets: config.auth.secrets,
    credentials,
    admission: (phyId, remoteAddress) => limits.admit(phyId, remoteAddress),
  });

  // The lookup runs only once a delivery arrives, by then `devices` (made below, once the
  // replica's delivery address is known for its route hooks) exists.
  const tracing = await Tracing.create(config.tracing, { name: 'ingress', version: packageVersion(__dirname) });
  const spans = tracing.enabled ? new DeviceSpans(tracing, config.replicaId) : undefined;
  const tracker = new DeliveryTracker((phyId) => devices.forDelivery(phyId), metrics, logger, spans);
  const app = createIngressApp({
    tracker,
    internalToken: config.internalToken,
    bodyLimitBytes: config.http.bodyLimitBytes,
    maxFrameBytes: config.tcp.maxFrameBytes,
    isReady: () => ready,
    checks: store.checks,
    registry: metrics.registry,
    logger,
    logSampling: config.log,
  });
  const http = createLimitedServer(app, config.http, { noDelay: true });
  const streams = config.http.deliveryStream
    ? new DeliveryStreamServer({ tracker, internalToken: config.internalToken, lineLimitBytes: config.http.bodyLimitBytes, maxFrameBytes: config.tcp.maxFrameBytes, logger, registry: metrics.registry })
    : null;
  streams?.attach(http);
  const httpPort = await listen(http, config.http.port, config.http.host);
  const address = config.http.advertiseUrl || `http://127.0.0.1:${httpPort}`;
  const replica = { replicaId: config.replicaId, address };

  const routes: RouteHooks = {
    register: async (conn) => {
      const { epoch, previous } = await registry.register(conn.phyId, replica);
      if (previous) {
        limits.recordSupersede(conn.phyId).catch((error: unknown) => logger.warn({ phyId: conn.phyId, err: toError(error) }, 'could not count the supersede'));
      }
      return epoch;
    },
    unregister: async (conn) => {
      try {
        await registry.unregister(conn.phyId, replica.replicaId, conn.epoch);
      } catch (error) {
        // The entry stays until this replica's heartbeat lapses or it drains; it then reads offline.
        logger.warn({ phyId: conn.phyId, epoch: conn.epoch, err: toError(error) }, 'could not remove the route');
      }
    },
  };

  const devices = new DeviceServer({
    host: config.tcp.host,
    port: config.tcp.port,
    tls: config.tcp.tlsCertFile ? { certFile: config.tcp.tlsCertFile, keyFile: config.tcp.tlsKeyFile } : undefined,
    authenticator,
    legacyTokenAuth: config.auth.legacyTokenAuth,
    heartbeatSeconds: config.timing.heartbeatSeconds,
    handshakeTimeoutMs: config.timing.handshakeTimeoutMs,
    idleTimeoutMs: idleTimeoutMs(config),
    errorLingerMs: config.timing.errorLingerMs,
    maxConnections: connectionLimit.maxConnections,
    maxFrameBytes: config.tcp.maxFrameBytes,
    writeHighWaterBytes: config.tcp.writeHighWaterBytes,
    routes,
    metrics,
    logger,
  });
  const heartbeat = new ReplicaHeartbeat(registry, replica, config.registry.heartbeatIntervalMs, config.registry.heartbeatTtlMs, logger);
  let unsubscribe: (() => Promise<void>) | undefined;
  let revocations: { stop(): Promise<void> } | undefined;
  let tcpPort: number;
  try {
    await heartbeat.start();
    unsubscribe = await registry.onSuperseded(replica.replicaId, (phyId, epoch) => devices.superseded(phyId, epoch));
    revocations = await credentials.onRevoked((phyId) => devices.revoked(phyId));
    tcpPort = await devices.listen();
  } catch (error) {
    heartbeat.stop();
    await devices.stop().catch(() => undefined);
    streams?.close();
    await closeHttp(http);
    await store.close();
    throw error;
  }
  ready = true;
  logger.info({ replicaId: replica.replicaId, tcpPort, httpPort, address, tls: Boolean(config.tcp.tlsCertFile), authMode: config.auth.mode }, 'ingress ready');

  let ending: Promise<void> | undefined;
  const finish = async (): Promise<void> => {
    heartbeat.stop();
    try {
      const removed = await registry.removeReplica(replica.replicaId);
      logger.info({ removed }, 'routes of this replica removed');
    } catch (error) {
      logger.error({ err: toError(error) }, 'could not remove this replica\'s routes; they read offline once its heartbeat lapses');
    }
    await unsubscribe?.().catch(() => undefined);
    await revocations?.stop().catch(() => undefined);
    // Upgraded streams are no longer the HTTP server's: close() would wait for them forever.
    streams?.close();
    await closeHttp(http);
    await store.close();
    await tracing.shutdown().catch((error: unknown) => logger.warn({ err: toError(error) }, 'sending the last spans failed'));
  };

  return {
    tcpPort,
    httpPort,
    replicaId: replica.replicaId,
    address,
    app,
    metrics,
    registry,
    credentials,
    devices,
    drain() {
      ending ??= (async () => {
        ready = false;
        const deadline = Date.now() + Math.max(0, config.drain.graceMs - 2_000);
        logger.info({ connections: devices.connectionCount, waiting: tracker.waiting }, 'draining: GOAWAY to every device');
        devices.beginDrain(config.drain.reconnectSpreadMs);
        await Promise.race([tracker.whenIdle(), sleep(deadline - Date.now())]);
        devices.closeAll('drained');
        await devices.stop();
        await finish();
        logger.info('drain complete');
      })();
      return ending;
    },
    stop() {
      ending ??= (async () => {
        ready = false;
        await devices.stop();
        await finish();
      })();
      return ending;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
    // Answers in flight finished before this point (the drain waited for them).
    setTimeout(() => server.closeAllConnections(), 1_000).unref();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)).unref());
}
