import { bulkConformance, historyConformance } from './bulk';
import { concurrencyConformance } from './concurrency';
import { eventConformance } from './events';
import type { MakeQueue } from './harness';
import { idempotencyCapsConformance } from './idempotency-caps';
import { leaseConformance } from './leases';
import { offlineConformance } from './offline';
import { orderConformance } from './order';
import { retryConformance } from './retries';
import { statsConformance } from './stats';
import { ttlConformance } from './ttl';
import { validationConformance } from './validation';

export type { MakeQueue } from './harness';
export { claimersFor, cmd, drain, drainAckingWithClaim, enqueueAll, useQueues } from './harness';

export const CONFORMANCE_MODULES = {
  concurrency: concurrencyConformance,
  order: orderConformance,
  leases: leaseConformance,
  retries: retryConformance,
  ttl: ttlConformance,
  idempotencyCaps: idempotencyCapsConformance,
  stats: statsConformance,
  offline: offlineConformance,
  validation: validationConformance,
  events: eventConformance,
  bulk: bulkConformance,
  history: historyConformance,
} as const;


/**
 * The behaviour every CommandQueue backend must show (delivery, atomic transitions, order, offline devices), written
 * against the interface only. `makeQueue` answers a fresh, empty queue per test (see
 * MakeQueue for siblings). `only` runs a subset (e.g. on a Redis Cluster).
 */
export function queueConformance(name: string, makeQueue: MakeQueue, only?: Array<keyof typeof CONFORMANCE_MODULES>): void {
  describe(`CommandQueue conformance: ${name}`, () => {
    for (const [key, module] of Object.entries(CONFORMANCE_MODULES)) {
      if (!only || only.includes(key as keyof typeof CONFORMANCE_MODULES)) module(makeQueue);
    }
  });
}
