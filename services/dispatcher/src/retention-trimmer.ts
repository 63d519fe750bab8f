import type { CommandQueue, Logger } from '@outbound/core';
import type { DispatcherMetrics } from './metrics';
import { PeriodicTask } from './periodic-task';

/**
 * Counts the bytes finished records and the event log hold and, with QUEUE_RETENTION_MAX_BYTES,
 * trims them to it, oldest first, a record with its events (a store without trimRetained bounds
 * them by time alone: the task ends its tick at once). One script per shard, safe on any number
 * of dispatchers at once.
 */
export function createRetentionTrimmer(deps: { queue: CommandQueue; metrics: DispatcherMetrics; logger: Logger; intervalMs: number }): PeriodicTask {
  return new PeriodicTask('retention-trimmer', deps.intervalMs, async () => {
    // Another dispatcher's trim within half an interval stands for this one (trim-finished-1.lua).
    const answer = await deps.queue.trimRetained?.({ quietMs: Math.floor(deps.intervalMs / 2) });
    if (!answer) return;
    deps.metrics.retainedBytes.set(answer.retainedBytes);
    if (answer.trimmed > 0) {
      deps.metrics.trimmedEarly.inc(answer.trimmed);
      deps.logger.warn({ trimmed: answer.trimmed, retainedBytes: answer.retainedBytes }, 'finished records and their events trimmed to the byte budget before their retention ended');
    }
  }, deps.logger);
}
