import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { frameTypeName, FrameType } from '@outbound/core/protocol';
import { createMetricsRegistry } from '@outbound/core/service';

/** Every ingress metric, named `outbound_ingress_*` (docs/ingress.md lists them). */
export class IngressMetrics {
  readonly registry: Registry;
  readonly connectedDevices: Gauge;
  readonly openConnections: Gauge;
  readonly maxConnections: Gauge;
  readonly handshakes: Counter<'result'>;
  readonly framesIn: Counter<'type'>;
  readonly framesOut: Counter<'type'>;
  readonly frameErrors: Counter<'reason'>;
  readonly deliveries: Counter<'outcome'>;
  readonly ackLatency: Histogram;
  readonly disconnects: Counter<'reason'>;
  readonly authFailures: Counter<'reason'>;
  readonly rateLimitedHandshakes: Counter<'scope'>;
  readonly supersedes: Counter;
  /** Pre-bound children: the per-frame path must not look labels up in a map. */
  private readonly inByType = new Map<number, { inc(n?: number): void }>();
  private readonly outByType = new Map<number, { inc(n?: number): void }>();

  constructor(registry: Registry = createMetricsRegistry('ingress')) {
    this.registry = registry;
    const registers = [registry];
    this.connectedDevices = new Gauge({ name: 'outbound_ingress_connected_devices', help: 'Devices past WELCOME and registered', registers });
    this.openConnections = new Gauge({ name: 'outbound_ingress_open_connections', help: 'TCP connections open, including TLS and protocol handshakes in progress', registers });
    this.maxConnections = new Gauge({ name: 'outbound_ingress_max_connections', help: 'Connection limit in force (INGRESS_MAX_CONNECTIONS, clamped to the open-file limit)', registers });
    this.handshakes = new Counter({ name: 'outbound_ingress_handshakes_total', help: 'Handshakes by result', labelNames: ['result'], registers });
    this.framesIn = new Counter({ name: 'outbound_ingress_frames_in_total', help: 'Frames received from devices by type', labelNames: ['type'], registers });
    this.framesOut = new Counter({ name: 'outbound_ingress_frames_out_total', help: 'Frames sent to devices by type', labelNames: ['type'], registers });
    this.frameErrors = new Counter({ name: 'outbound_ingress_frame_errors_total', help: 'Connections closed with an ERROR frame, by code', labelNames: ['reason'], registers });
    this.deliveries = new Counter({ name: 'outbound_ingress_deliveries_total', help: 'Delivery requests by outcome', labelNames: ['outcome'], registers });
    this.ackLatency = new Histogram({
      name: 'outbound_ingress_ack_latency_seconds',
      help: 'COMMAND written to ACK received',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.disconnects = new Counter({ name: 'outbound_ingress_disconnects_total', help: 'Connections closed, by reason', labelNames: ['reason'], registers });
    this.authFailures = new Counter({ name: 'outbound_ingress_auth_failures_total', help: 'Handshakes answered AUTH_FAILED, by reason', labelNames: ['reason'], registers });
    this.rateLimitedHandshakes = new Counter({
      name: 'outbound_ingress_rate_limited_handshakes_total',
      help: 'Handshakes answered RATE_LIMITED, by the limit that refused them (ip, phy_id, supersede_storm)',
      labelNames: ['scope'],
      registers,
    });
    this.supersedes = new Counter({ name: 'outbound_ingress_supersedes_total', help: 'Connections closed because a newer connection of the same phyId arrived', registers });
    for (const type of Object.values(FrameType)) {
      this.inByType.set(type, this.framesIn.labels(frameTypeName(type)));
      this.outByType.set(type, this.framesOut.labels(frameTypeName(type)));
    }
  }

  frameIn(type: number): void {
    (this.inByType.get(type) ?? this.framesIn.labels('unknown')).inc();
  }

  frameOut(type: number, count = 1): void {
    this.outByType.get(type)?.inc(count);
  }
}
