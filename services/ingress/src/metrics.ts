import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { frameTypeName, isKnownFrameType } from '@outbound/core/protocol';
import { createMetricsRegistry, packageVersion } from '@outbound/core/service';

/** The histogram's buckets (seconds). */
const ACK_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

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
  /**
   * Per-command counts are kept as plain numbers and handed to prom-client when it collects
   * (a scrape): its inc() hashes the label set on every call, even on a child bound with
   * labels(), and a histogram observe() builds a closure and a label object (0.3-1 µs each, four
   * per command). Indexed by frame type; what prom-client has already been told is kept apart.
   */
  private readonly framesInByType = new Float64Array(256);
  private readonly framesInReported = new Float64Array(256);
  private readonly framesOutByType = new Float64Array(256);
  private readonly framesOutReported = new Float64Array(256);
  /** Deliveries by outcome: [counted, reported]. */
  private readonly deliveryTally = new Map<string, [number, number]>();
  /** ACK latencies not yet handed over: per bucket of ACK_LATENCY_BUCKETS (the last: above them all), their sum and count. */
  private readonly latencyBuckets = new Float64Array(ACK_LATENCY_BUCKETS.length + 1);
  private latencySum = 0;
  private latencyCount = 0;
  /** prom-client keeps the histogram's series where handOverLatencies() adds to it (otherwise each latency is observed at once). */
  private readonly latencyTallied: boolean;

  constructor(registry: Registry = createMetricsRegistry('ingress', { version: packageVersion(__dirname) })) {
    this.registry = registry;
    const registers = [registry];
    this.connectedDevices = new Gauge({ name: 'outbound_ingress_connected_devices', help: 'Devices past WELCOME and registered', registers });
    this.openConnections = new Gauge({ name: 'outbound_ingress_open_connections', help: 'TCP connections open, including TLS and protocol handshakes in progress', registers });
    this.maxConnections = new Gauge({ name: 'outbound_ingress_max_connections', help: 'Connection limit in force (INGRESS_MAX_CONNECTIONS, clamped to the open-file limit)', registers });
    this.handshakes = new Counter({ name: 'outbound_ingress_handshakes_total', help: 'Handshakes by result', labelNames: ['result'], registers });
    this.framesIn = new Counter({
      name: 'outbound_ingress_frames_in_total', help: 'Frames received from devices by type', labelNames: ['type'], registers,
      collect: () => handOver(this.framesIn, this.framesInByType, this.framesInReported, (type) => (isKnownFrameType(type) ? frameTypeName(type) : 'unknown')),
    });
    this.framesOut = new Counter({
      name: 'outbound_ingress_frames_out_total', help: 'Frames sent to devices by type', labelNames: ['type'], registers,
      collect: () => handOver(this.framesOut, this.framesOutByType, this.framesOutReported, frameTypeName),
    });
    this.frameErrors = new Counter({ name: 'outbound_ingress_frame_errors_total', help: 'Connections closed with an ERROR frame, by code', labelNames: ['reason'], registers });
    this.deliveries = new Counter({
      name: 'outbound_ingress_deliveries_total', help: 'Delivery requests by outcome', labelNames: ['outcome'], registers,
      collect: () => {
        for (const [outcome, tally] of this.deliveryTally) {
          if (tally[0] === tally[1]) continue;
          this.deliveries.inc({ outcome }, tally[0] - tally[1]);
          tally[1] = tally[0];
        }
      },
    });
    this.ackLatency = new Histogram({
      name: 'outbound_ingress_ack_latency_seconds',
      help: 'COMMAND written to ACK received',
      buckets: [...ACK_LATENCY_BUCKETS],
      registers,
      collect: () => this.handOverLatencies(this.ackLatency),
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
    this.latencyTallied = seriesOf(this.ackLatency) !== undefined;
  }

  /** A frame of `type` (a byte) arrived; unknown types are counted as `unknown`. */
  frameIn(type: number): void {
    this.framesInByType[type & 0xff]++;
  }

  /** `count` frames of `type` were written; types this protocol does not define are not counted. */
  frameOut(type: number, count = 1): void {
    if (isKnownFrameType(type)) this.framesOutByType[type] += count;
  }

  /** One delivery request came to `outcome` (the deliveries counter's label). */
  delivered(outcome: string): void {
    const tally = this.deliveryTally.get(outcome);
    if (tally) tally[0]++;
    else this.deliveryTally.set(outcome, [1, 0]);
  }

  /** One ACK, `ms` after its COMMAND was written (the ack latency histogram, in seconds). */
  ackLatencyMs(ms: number): void {
    const seconds = ms / 1000;
    if (!this.latencyTallied) {
      this.ackLatency.observe(seconds);
      return;
    }
    let i = 0;
    while (i < ACK_LATENCY_BUCKETS.length && seconds > ACK_LATENCY_BUCKETS[i]) i++;
    this.latencyBuckets[i]++;
    this.latencySum += seconds;
    this.latencyCount++;
  }

  /**
   * Adds the latencies counted since the last collection to the histogram's own series (no
   * labels), the one its observe() adds to; zero() makes it again after a registry reset.
   */
  private handOverLatencies(histogram: Histogram): void {
    if (this.latencyCount === 0) return;
    let series = seriesOf(histogram);
    if (!series) {
      histogram.zero({});
      series = seriesOf(histogram)!;
    }
    for (let i = 0; i < ACK_LATENCY_BUCKETS.length; i++) series.bucketValues[ACK_LATENCY_BUCKETS[i]] += this.latencyBuckets[i];
    series.sum += this.latencySum;
    series.count += this.latencyCount;
    this.latencyBuckets.fill(0);
    this.latencySum = 0;
    this.latencyCount = 0;
  }
}

/** prom-client's series of a histogram: per upper bound the observations in it (not cumulative), their sum and count. */
interface HistogramSeries {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** prom-client's series of a label-less histogram, when it is laid out as this file expects. */
function seriesOf(histogram: Histogram): HistogramSeries | undefined {
  const series = (histogram as unknown as { hashMap?: Record<string, HistogramSeries | undefined> }).hashMap?.[''];
  const ok = series && typeof series.sum === 'number' && typeof series.count === 'number' && typeof series.bucketValues === 'object'
    && ACK_LATENCY_BUCKETS.every((bound) => typeof series.bucketValues[bound] === 'number');
  return ok ? series : undefined;
}

/** Tells `counter` what `counts` (indexed by frame type) gained since `reported`. */
function handOver(counter: Counter<'type'>, counts: Float64Array, reported: Float64Array, label: (type: number) => string): void {
  for (let type = 0; type < counts.length; type++) {
    const gained = counts[type] - reported[type];
    if (gained === 0) continue;
    counter.inc({ type: label(type) }, gained);
    reported[type] = counts[type];
  }
}
