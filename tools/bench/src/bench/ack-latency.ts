import type { CommandQueue } from '@outbound/core';
import { sleep } from './child-processes';
import type { ProducedCommands } from './load-generator';

/** Latency percentiles in milliseconds (exact, from sorted samples). */
export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** Nearest-rank percentiles of `values` (ms). */
export function percentiles(values: number[]): LatencyStats {
  if (values.length === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => round2(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: round2(sorted[sorted.length - 1]!) };
}

export interface AckLatencyResult {
  /** Intended send time → the ACK recorded in the queue (the command's `updatedAt` when it turned `acked`). */
  latency: LatencyStats;
  /** Sampled commands that were not `acked` when the read gave up (should be 0). */
  notAcked: number;
  statuses: Record<string, number>;
}

/**
 * Reads each sampled command back from the queue store and takes `updatedAt` of its `acked`
 * record — the store's own clock (Redis TIME, PostgreSQL now()) at the moment the ACK was
 * recorded — minus the time the producer meant to send it. Both clocks are this host's
 * CLOCK_REALTIME. The stores keep whole milliseconds, so each sample takes the middle of that
 * millisecond (+0.5 ms): every sample is exact to ±0.5 ms.
 *
 * At most `sample` commands are read (a uniform random sample beyond that), `concurrency` reads
 * at a time; a command not yet terminal is read again until `timeoutMs` passes.
 */
export async function readAckLatencies(
  queue: CommandQueue,
  produced: ProducedCommands,
  options: { sample?: number; concurrency?: number; timeoutMs?: number } = {},
): Promise<AckLatencyResult> {
  const sample = options.sample ?? 50_000;
  let indexes = Array.from({ length: produced.ids.length }, (_, i) => i);
  if (indexes.length > sample) {
    for (let i = 0; i < sample; i++) {
      const j = i + Math.floor(Math.random() * (indexes.length - i));
      [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
    }
    indexes = indexes.slice(0, sample);
  }
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let notAcked = 0;
  let cursor = 0;
  const reader = async (): Promise<void> => {
    while (cursor < indexes.length) {
      const i = indexes[cursor++]!;
      for (;;) {
        const command = await queue.get(produced.ids[i]!);
        const status = command?.status ?? 'missing';
        if (status === 'acked') {
          latencies.push(command!.updatedAt + 0.5 - produced.intendedMs[i]!);
        } else if ((status === 'queued' || status === 'inflight') && Date.now() < deadline) {
          await sleep(20);
          continue;
        } else {
          notAcked += 1;
        }
        statuses[status] = (statuses[status] ?? 0) + 1;
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 64 }, reader));
  return { latency: percentiles(latencies), notAcked, statuses };
}
