import { Histogram, type Registry } from 'prom-client';
import { hostClockMs, type DeliveryHopTimes } from '@outbound/core/delivery';
import { seriesObserver } from './fast-observe';

/**
 * The hops of one command through the dispatcher and the ingress, as
 * `outbound_dispatcher_hop_seconds{hop}` observes them (docs/operations.md, "Where the time goes"):
 *
 * - `wake`: the store's enqueue time (createdAt, whole ms) to the claim call that took it
 * - `claim`: the claim call (per claimed command)
 * - `route`: the route lookup of its batch
 * - `request`: the batch sent (stream line or batch call) to the ingress having it parsed
 * - `ingress_write`: parsed to the COMMAND handed to the device's socket
 * - `device`: COMMAND handed to the socket to its ACK read
 * - `ingress_answer`: ACK read to the answer line handed to the stream or HTTP response
 * - `answer_back`: that to the dispatcher reading the line
 * - `record`: the line read to the outcome recorded in the store
 *
 * and, per enqueue request of the public API (before any of the above):
 *
 * - `enqueue_api`: the request's headers parsed to its store call sent (authentication, body, validation)
 * - `enqueue_store`: the store call (a wait for a free call included, EnqueueCoalescer)
 * - `enqueue_answer`: the store's answer to the HTTP answer handed to the socket
 */
export type Hop = 'enqueue_api' | 'enqueue_store' | 'enqueue_answer' | 'wake' | 'claim' | 'route' | 'request' | 'ingress_write' | 'device' | 'ingress_answer' | 'answer_back' | 'record';
const HOPS: Hop[] = ['enqueue_api', 'enqueue_store', 'enqueue_answer', 'wake', 'claim', 'route', 'request', 'ingress_write', 'device', 'ingress_answer', 'answer_back', 'record'];

/**
 * Per-hop timing, on only when DISPATCHER_HOP_TIMING asks (the bench does): the ingress then
 * stamps each answer line with its own times (one clock per host, so the stamps of two
 * processes compare). Off, the hot path pays one `if` per batch.
 */
export class HopTimer {
  private readonly histogram: Histogram<'hop'>;
  /** One observer per hop (seriesObserver: a hop is observed up to a dozen times per command). */
  private readonly series: Map<Hop, (seconds: number) => void>;

  constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: 'outbound_dispatcher_hop_seconds',
      help: 'Time per hop of a delivered command (DISPATCHER_HOP_TIMING=true only): wake, claim, route, request, ingress_write, device, ingress_answer, answer_back, record; per enqueue request: enqueue_api, enqueue_store, enqueue_answer',
      labelNames: ['hop'],
      buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    this.series = new Map(HOPS.map((hop) => [hop, seriesObserver(this.histogram, { hop })]));
  }

  /** Observes `ms` (clamped at 0: stamps of two processes may disagree by a few µs). */
  observe(hop: Hop, ms: number): void {
    this.series.get(hop)!(Math.max(0, ms) / 1000);
  }

  /** The ingress' stamps of one answer, and the moment this process read it (`readAt`); `sentAt` when the batch call went out. */
  observeIngress(sentAt: number, readAt: number, t: DeliveryHopTimes): void {
    this.observe('request', t.received - sentAt);
    if (t.written !== undefined) {
      this.observe('ingress_write', t.written - t.received);
      if (t.acked !== undefined) {
        this.observe('device', t.acked - t.written);
        this.observe('ingress_answer', t.answered - t.acked);
      }
    }
    this.observe('answer_back', readAt - t.answered);
  }

  now(): number {
    return hostClockMs();
  }
}
