import type { CommandQueue, Logger } from '@outbound/core';
import type { DispatcherMetrics } from './metrics';
import { PeriodicTask } from './periodic-task';

/**
 * Returns expired leases (a crashed or stalled dispatcher's commands) to their device's line
 * and moves commands past their TTL to `expired`. Both are atomic scripts, so any number of
 * dispatchers may run this at once: each expired lease is reclaimed by exactly one of them.
 */
export function createLeaseReaper(deps: { queue: CommandQueue; metrics: DispatcherMetrics; logger: Logger; intervalMs: number; onWork?: () => void }): PeriodicTask {
  return new PeriodicTask('lease-reaper', deps.intervalMs, async () => {
    // Loop while full pages come back so a burst of expiries is cleared in one tick.
    for (let i = 0; i < 20; i += 1) {
      const reclaimed = await deps.queue.reclaimExpired({ limit: 500 });
      if (reclaimed > 0) {
        deps.metrics.reclaimed.inc(reclaimed);
        deps.logger.info({ reclaimed }, 'reclaimed expired leases');
        deps.onWork?.();
      }
      if (reclaimed < 500) break;
    }
    for (let i = 0; i < 20; i += 1) {
      const expired = await deps.queue.expireDue({ limit: 500 });
      if (expired > 0) deps.metrics.expired.inc(expired);
      if (expired < 500) break;
    }
  }, deps.logger);
}
