import { build, type Histogram } from 'hdr-histogram-js';

/** Percentiles in milliseconds (recorded in microseconds, 3 significant digits). */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** An HDR histogram of durations; plain JS (no WebAssembly) so it needs no async init. */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us / 10) / 100;
    return {
      count: h.totalCount,
      p50: ms(h.getValueAtPercentile(50)),
      p95: ms(h.getValueAtPercentile(95)),
      p99: ms(h.getValueAtPercentile(99)),
      // Percentiles report a bucket's highest equivalent value; so does the max, to stay >= p99.
      max: ms(h.getValueAtPercentile(100)),
    };
  }

  reset(): void {
    this.histogram.reset();
  }
}
