import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { readFileSync } from 'node:fs';
import { encodeError, encodeGoaway, FrameType, wireErrorName, WireErrorCode } from '@outbound/core/protocol';
import type { Logger } from '@outbound/core/service';
import type { AdmitVerdict, AuthFailure, DeviceAuthenticator } from './device-auth';
import { ConnState, DeviceConnection, type ConnectionHost } from './device-connection';
import type { IngressMetrics } from './metrics';

export interface DeviceServerOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  authenticator: DeviceAuthenticator;
  /** Accept the v1 static-token HELLO (INGRESS_LEGACY_TOKEN_AUTH). */
  legacyTokenAuth: boolean;
  heartbeatSeconds: number;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  errorLingerMs: number;
  maxConnections: number;
  maxFrameBytes: number;
  writeHighWaterBytes: number;
  /** Records and removes the routes of connections. */
  routes: RouteHooks;
  metrics: IngressMetrics;
  logger: Logger;
}

/** Records and removes routes; the server calls it, the ingress wires it to the registry. */
export interface RouteHooks {
  /** Records the route; answers the connection's epoch. */
  register(conn: DeviceConnection): Promise<number>;
  unregister(conn: DeviceConnection): Promise<void>;
}

/**
 * The device TCP (or TLS) listener: accepts connections up to the limit, runs one sweep for
 * every handshake, idle and linger deadline (no per-connection timers: at 50,000 connections
 * one pass a second costs far less than 50,000 timers re-armed on every frame), keeps phyId →
 * connection, and makes a newer connection of a phyId supersede the older one.
 */
export class DeviceServer implements ConnectionHost {
  readonly heartbeatSeconds: number;
  readonly writeHighWaterBytes: number;
  readonly legacyTokenAuth: boolean;
  private readonly server: Server;
  private readonly secureContext: SecureContext | undefined;
  private readonly connections = new Set<DeviceConnection>();
  private readonly byPhyId = new Map<string, DeviceConnection>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly routes: RouteHooks;
  private draining = false;

  constructor(private readonly options: DeviceServerOptions) {
    this.heartbeatSeconds = options.heartbeatSeconds;
    this.writeHighWaterBytes = options.writeHighWaterBytes;
    this.legacyTokenAuth = options.legacyTokenAuth;
    this.routes = options.routes;
    // TLS is layered on accepted TCP sockets rather than left to tls.Server, so a socket is
    // counted against the limit and held to the handshake deadline from accept, TLS handshake
    // included (tls.Server hands a socket over only once its handshake is done).
    if (options.tls) this.secureContext = createSecureContext({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) });
    this.server = createTcpServer((socket) => this.accept(socket));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const tick = Math.max(20, Math.min(1_000, Math.floor(Math.min(this.options.handshakeTimeoutMs, this.options.idleTimeoutMs, this.options.errorLingerMs || 1_000) / 4)));
    this.sweepTimer = setInterval(() => this.sweep(), tick);
    this.sweepTimer.unref();
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** The connection of a phyId, whatever its state. */
  connectionOf(phyId: string): DeviceConnection | undefined {
    return this.byPhyId.get(phyId);
  }

  /** A connection deliveries may use: registered, and the replica not draining. */
  deliverable(phyId: string): DeviceConnection | undefined {
    const conn = this.forDelivery(phyId);
    return conn?.state === ConnState.READY ? conn : undefined;
  }

  /**
   * The connection a delivery may use or wait for: READY, or REGISTERING (its route may already
   * be readable by dispatchers, the registry's answer not yet heard here); none while draining.
   */
  forDelivery(phyId: string): DeviceConnection | undefined {
    if (this.draining) return undefined;
    const conn = this.byPhyId.get(phyId);
    return conn && (conn.state === ConnState.READY || conn.state === ConnState.REGISTERING) ? conn : undefined;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const m = this.options.metrics;
    if (this.draining || this.connections.size >= this.options.maxConnections) {
      m.handshakes.labels('busy').inc();
      socket.on('error', () => undefined);
      if (this.secureContext) {
        // An ERROR frame would need a TLS handshake first: the cost the limit is there to refuse.
        socket.destroy();
        return;
      }
      m.frameErrors.labels('BUSY').inc();
      m.frameOut(FrameType.ERROR);
      // Release the descriptor as soon as the frame is handed to the kernel: a flood of refused
      // connections must not hold files of its own (the kernel still delivers the frame and FIN).
      socket.end(encodeError(WireErrorCode.BUSY, this.draining ? 'server is draining' : 'connection limit reached'), () => socket.destroy());
      socket.setTimeout(this.options.errorLingerMs || 1, () => socket.destroy());
      return;
    }
    const openedAt = Date.now();
    if (!this.secureContext) {
      this.connections.add(new DeviceConnection(socket, this, this.options.maxFrameBytes, openedAt));
      m.openConnections.inc();
      return;
    }
    const secure = new TLSSocket(socket, { isServer: true, secureContext: this.secureContext });
    const conn = new DeviceConnection(secure, this, this.options.maxFrameBytes, openedAt, true);
    secure.once('error', () => {
      if (conn.transportPending) m.handshakes.labels('tls_error').inc();
    });
    this.connections.add(conn);
    m.openConnections.inc();
  }

  admit(conn: DeviceConnection, phyId: string): Promise<AdmitVerdict> {
    return this.options.authenticator.admit(phyId, conn.socket.remoteAddress ?? '').then((verdict) => {
      if (verdict.kind === 'rate_limited') this.options.metrics.rateLimitedHandshakes.labels(verdict.scope).inc();
      return verdict;
    });
  }

  onAuthFailed(conn: DeviceConnection, reason: AuthFailure): void {
    this.options.metrics.authFailures.labels(reason).inc();
    this.options.logger.info({ phyId: conn.phyId || undefined, remote: conn.remote, reason }, 'device authentication failed');
  }

  /** The device was revoked (any replica heard it): cut every connection of that phyId. */
  revoked(phyId: string): void {
    for (const conn of this.connections) {
      if (conn.phyId !== phyId || conn.state === ConnState.CLOSING) continue;
      conn.authFailed(conn.inHandshake ? 'revoked' : 'revoked_while_connected', 'this device is revoked');
    }
  }

  onAuthenticated(conn: DeviceConnection): void {
    const older = this.byPhyId.get(conn.phyId);
    this.byPhyId.set(conn.phyId, conn);
    if (older && older !== conn) {
      this.options.metrics.supersedes.inc();
      older.fail(WireErrorCode.SUPERSEDED, 'a newer connection of this device arrived');
    }
    this.options.metrics.handshakes.labels('ok').inc();
    const routes = this.routes;
    routes.register(conn).then(
      (epoch) => {
        if (!conn.registered(epoch)) {
          // Closed while registering: remove the route it just recorded (fenced by epoch).
          if (!this.connections.has(conn)) void routes.unregister(conn);
          return;
        }
        this.options.metrics.connectedDevices.inc();
        this.options.logger.debug({ phyId: conn.phyId, epoch, remote: conn.remote }, 'device connected');
      },
      (error: unknown) => {
        this.options.logger.error({ phyId: conn.phyId, err: error }, 'could not record the route; closing so the device reconnects');
        conn.destroy('registry_error');
      },
    );
  }

  /** The registry says another replica took `phyId` at an epoch above `epoch`. */
  superseded(phyId: string, epoch: number): void {
    const conn = this.byPhyId.get(phyId);
    if (conn?.supersededElsewhere(epoch)) this.options.metrics.supersedes.inc();
  }

  onAck(conn: DeviceConnection, latencyMs: number | null): void {
    if (latencyMs !== null) {
      this.options.metrics.ackLatencyMs(latencyMs);
      return;
    }
    this.options.metrics.delivered('late_ack');
    this.options.logger.debug({ phyId: conn.phyId }, 'ACK for no waiting delivery (late or duplicate)');
  }

  onFrameIn(type: number): void {
    this.options.metrics.frameIn(type);
  }

  onFrameOut(type: number): void {
    this.options.metrics.frameOut(type);
  }

  onHandshakeFailed(reason: string): void {
    this.options.metrics.handshakes.labels(reason).inc();
  }

  onErrorSent(code: number, conn: DeviceConnection, reason: string): void {
    const name = wireErrorName(code);
    this.options.metrics.frameErrors.labels(name).inc();
    this.options.logger.info({ phyId: conn.phyId || undefined, remote: conn.remote, code: name, reason }, 'closing connection with ERROR');
  }

  onClosed(conn: DeviceConnection): void {
    if (!this.connections.delete(conn)) return;
    const m = this.options.metrics;
    m.openConnections.dec();
    m.disconnects.labels(conn.closeReason || 'peer_closed').inc();
    if (this.byPhyId.get(conn.phyId) === conn) this.byPhyId.delete(conn.phyId);
    if (conn.counted) m.connectedDevices.dec();
    if (conn.epoch > 0) void this.routes.unregister(conn);
  }

  private sweep(): void {
    const now = Date.now();
    const { handshakeTimeoutMs, idleTimeoutMs, errorLingerMs } = this.options;
    for (const conn of this.connections) {
      if (conn.state === ConnState.HANDSHAKE) {
        if (now - conn.openedAt <= handshakeTimeoutMs) continue;
        if (conn.transportPending) {
          // No TLS session to carry an ERROR frame: close the socket.
          this.options.metrics.handshakes.labels('tls_timeout').inc();
          conn.destroy('tls_handshake_timeout');
        } else {
          conn.fail(WireErrorCode.HANDSHAKE_TIMEOUT, `no HELLO2 within ${handshakeTimeoutMs} ms`);
        }
      } else if (conn.inHandshake) {
        if (now - conn.openedAt > handshakeTimeoutMs) conn.authFailed('proof_timeout', `no PROOF within ${handshakeTimeoutMs} ms`);
      } else if (conn.state === ConnState.CLOSING) {
        if (conn.closingSince > 0 && now - conn.closingSince > errorLingerMs) conn.destroy(conn.closeReason);
      } else if (now - conn.lastSeenAt > idleTimeoutMs) {
        conn.fail(WireErrorCode.IDLE_TIMEOUT, `nothing received for ${idleTimeoutMs} ms`);
      }
    }
  }

  /**
   * Drain, first half: stop accepting, and send every device GOAWAY with a reconnect-after
   * drawn from 0..spreadMs so the fleet does not reconnect all at once. Deliveries are
   * refused from now on (DEVICE_NOT_CONNECTED); those in flight are answered when their ACK
   * arrives, the device closes, or they time out.
   */
  beginDrain(spreadMs: number): void {
    this.draining = true;
    // close() stops accepting at once; its callback waits for every connection, so not awaited.
    this.server.close();
    for (const conn of this.connections) {
      if (conn.inHandshake) conn.destroy('draining');
      else if (conn.state !== ConnState.CLOSING && !conn.hasPendingDeliveries) {
        conn.endWith(encodeGoaway(Math.floor(Math.random() * (spreadMs + 1))), FrameType.GOAWAY, 'goaway');
      } else if (conn.state !== ConnState.CLOSING) {
        // Keep reading its ACKs: GOAWAY now, close once its deliveries are answered.
        conn.send(encodeGoaway(Math.floor(Math.random() * (spreadMs + 1))), FrameType.GOAWAY);
      }
    }
  }

  /** Drain, second half (and stop()): destroy every connection left. */
  closeAll(reason: string): void {
    this.draining = true;
    for (const conn of this.connections) conn.destroy(reason);
  }

  /** Resolves when every connection has closed (or `timeoutMs` passed). */
  async waitForConnectionsClosed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  async stop(): Promise<void> {
    this.draining = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    if (this.server.listening) this.server.close();
    this.closeAll('stopping');
    await this.waitForConnectionsClosed(2_000);
  }
}
