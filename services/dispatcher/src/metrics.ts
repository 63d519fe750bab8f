import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CommandQueue } from '@outbound/core';

/** Delivery outcomes as counted by `outbound_dispatcher_delivered_total{outcome}`. */
export type DeliveryOutcome =
  | 'ok' | 'rejected' | 'busy' | 'ack_timeout' | 'transport_error' | 'device_offline' | 'stale_route' | 'error'
  /** Given back unsent: the lease would end before the device could answer. */
  | 'lease_expired'
  /** The store refused the outcome: the lease had passed to another dispatcher. */
  | 'lease_lost';

/** Every metric the dispatcher exports, on one registry (never the global one). */
export interface DispatcherMetrics {
  registry: Registry;
  enqueued: Counter<'source'>;
  delivered: Counter<'outcome'>;
  retries: Counter;
  deadLettered: Counter;
  expired: Counter;
  reclaimed: Counter;
  devicesResumed: Counter<'via'>;
  enqueueToAck: Histogram;
  deliveryCall: Histogram<'kind'>;
  inFlight: Gauge;
  storeErrors: Counter<'backend' | 'kind'>;
  rateLimited: Counter<'role'>;
  retainedBytes: Gauge;
  trimmedEarly: Counter;
  /** Live event streams (`GET /v1/events`) open on this process. */
  eventStreams: Gauge;
  /** Webhook POSTs by what came of them (WebhookOutcome). */
  webhookDeliveries: Counter<'outcome'>;
  /** Per webhook this process delivers: age of the oldest event it has not finished. */
  webhookLag: Gauge<'webhook'>;
}

/**
 * What came of one webhook POST (`outbound_dispatcher_webhook_deliveries_total{outcome}`):
 * `delivered` 2xx; `retry` any other answer or none, tried again after a backoff; `gave_up` the
 * last retry failed (WEBHOOK_GIVE_UP_MS passed) and delivery moved on; `gone` 410, the webhook
 * is disabled.
 */
export type WebhookOutcome = 'delivered' | 'retry' | 'gave_up' | 'gone';

const P = 'outbound_dispatcher_';

/**
 * Creates the counters and histograms, and a queue-depth gauge that reads `queue.stats()` at
 * scrape time (a failed read leaves the last values, so /metrics still answers while the store
 * is down; pass the guarded queue so the failure is counted). `storeMemoryRatio` feeds the
 * store memory gauge (null: not known, e.g. PostgreSQL). `deviceInFlightMax` feeds the per-device in-flight gauge
 * at scrape time (0 without a delivery worker).
 */
export function createDispatcherMetrics(
  registry: Registry,
  queue: CommandQueue,
  deviceInFlightMax: () => number = () => 0,
  storeMemoryRatio: () => Promise<number | null> = () => Promise.resolve(null),
): DispatcherMetrics {
  const storeErrors = new Counter({
    name: `${P}store_errors_total`,
    help: 'Queue and route store calls that failed, by store and kind (unreachable, timeout, failover, full, internal); counted once, by the store guard',
    labelNames: ['backend', 'kind'],
    registers: [registry],
  });
  new Gauge({
    name: `${P}store_memory_ratio`,
    help: 'Store memory used as a share of its limit (Redis used_memory / maxmemory; 0 without a limit); enqueue stops at QUEUE_ADMISSION_MAX_MEMORY_RATIO',
    registers: [registry],
    async collect() {
      const ratio = await storeMemoryRatio().catch(() => null);
      if (ratio !== null) this.set(ratio);
    },
  });
  new Gauge({
    name: `${P}queue_depth`,
    help: 'Commands by state (read from the queue at scrape time)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      try {
        const { total } = await queue.stats();
        this.set({ state: 'pending' }, total.pending);
        this.set({ state: 'inflight' }, total.inflight);
        this.set({ state: 'delayed' }, total.delayed);
        this.set({ state: 'waiting_for_device' }, total.waitingForDevice);
        this.set({ state: 'dead' }, total.dead);
      } catch {
        // Keep the last values; the store guard counted the failure.
      }
    },
  });
  new Gauge({
    name: `${P}queue_oldest_ready_age_seconds`,
    help: 'Seconds since the oldest command that could be sent now was enqueued (0: none waiting); a bounded read at scrape time, the scaling signal',
    registers: [registry],
    async collect() {
      try {
        const age = await queue.oldestReadyAgeSeconds?.();
        if (age !== undefined && age !== null) this.set(age);
      } catch {
        // Keep the last value; the store guard counted the failure.
      }
    },
  });
  // The replaced system alerted on HLEN outbound:processing:<phyId> > 100; this is its per-process equivalent.
  new Gauge({
    name: `${P}device_inflight_max`,
    help: 'Most commands this dispatcher holds in flight for any one device (read at scrape time)',
    registers: [registry],
    collect() {
      this.set(deviceInFlightMax());
    },
  });
  return {
    registry,
    storeErrors,
    enqueued: new Counter({ name: `${P}enqueued_total`, help: 'Commands accepted by the API', labelNames: ['source'], registers: [registry] }),
    delivered: new Counter({ name: `${P}delivered_total`, help: 'Delivery outcomes the store recorded, by outcome (lease_lost: refused, the command belonged to another dispatcher by then)', labelNames: ['outcome'], registers: [registry] }),
    retries: new Counter({ name: `${P}retries_total`, help: 'Failed attempts scheduled for a retry', registers: [registry] }),
    deadLettered: new Counter({ name: `${P}dead_lettered_total`, help: 'Commands moved to dead letters after maxAttempts', registers: [registry] }),
    expired: new Counter({ name: `${P}expired_total`, help: 'Commands whose TTL passed before delivery', registers: [registry] }),
    devicesResumed: new Counter({
      name: `${P}devices_resumed_total`,
      help: 'Devices marked online: via=signal on every handshake signal, via=check for parked devices the periodic fallback found connected (a steady rise means lost signals)',
      labelNames: ['via'],
      registers: [registry],
    }),
    reclaimed: new Counter({ name: `${P}leases_reclaimed_total`, help: 'Expired leases returned to the queue', registers: [registry] }),
    enqueueToAck: new Histogram({
      name: `${P}enqueue_to_ack_seconds`,
      help: 'From enqueue to the device ACK being recorded',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    deliveryCall: new Histogram({
      name: `${P}delivery_call_seconds`,
      help: 'Ingress delivery calls: per command (kind=item) and per batch request (kind=batch)',
      labelNames: ['kind'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: `${P}in_flight`, help: 'Deliveries outstanding in this process', registers: [registry] }),
    retainedBytes: new Gauge({
      name: 'outbound_queue_retained_bytes',
      help: 'Bytes the finished records and the event log hold across the shards (Redis v3; records: field, record and per-entry overhead; event streams: MEMORY USAGE), as the last retention trim counted them, what QUEUE_RETENTION_MAX_BYTES caps; every dispatcher reports the same queue',
      registers: [registry],
    }),
    trimmedEarly: new Counter({
      name: 'outbound_queue_trimmed_early_total',
      help: 'Finished records this dispatcher dropped (with their events) to keep QUEUE_RETENTION_MAX_BYTES, before QUEUE_RETENTION_MS ended: GET answers 404 for them and their idempotency keys may be used again sooner',
      registers: [registry],
    }),
    eventStreams: new Gauge({ name: `${P}event_streams`, help: 'Live event streams (GET /v1/events) open on this process', registers: [registry] }),
    webhookDeliveries: new Counter({
      name: `${P}webhook_deliveries_total`,
      help: 'Webhook POSTs by outcome: delivered (2xx), retry (other answer or none; tried again), gave_up (retries ran out, moved on), gone (410: webhook disabled)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookLag: new Gauge({
      name: `${P}webhook_lag_seconds`,
      help: 'Per webhook delivered by this process: age of the oldest event it has not yet finished (0: caught up)',
      labelNames: ['webhook'],
      registers: [registry],
    }),
    rateLimited: new Counter({ name: `${P}rate_limited_total`, help: 'API requests answered 429 by the per-key rate limit, by the key\'s role', labelNames: ['role'], registers: [registry] }),
  };
}
