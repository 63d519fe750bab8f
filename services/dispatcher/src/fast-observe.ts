import type { Histogram, LabelValues } from 'prom-client';

/** One series of a prom-client histogram as the library keeps it (lib/histogram.js, createBaseValues). */
interface Series {
  labels: Record<string, unknown>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface HistogramInternals {
  hashMap?: Record<string, Series | undefined>;
  upperBounds?: readonly number[];
}

function sameLabels(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => String(a[k]) === String(b[k]));
}

/**
 * `observe` for one series of a histogram (labels fixed), for the dispatcher's per-command
 * observations. prom-client's own `observe` builds a labels object, a closure and a value pair,
 * checks and hashes the labels on every call (0.2–0.3 µs and a few hundred bytes of garbage per
 * call); this adds to the series' bucket, sum and count directly, as that `observe` does. The
 * first call, a call after a reset (the series is gone), a value that is not finite, or a
 * prom-client whose histogram is not kept as expected go through the library's own `observe`.
 */
export function seriesObserver<T extends string>(histogram: Histogram<T>, labels?: LabelValues<T>): (value: number) => void {
  const slow = labels ? (value: number) => histogram.observe(labels, value) : (value: number) => histogram.observe(value);
  const internals = histogram as unknown as HistogramInternals;
  const bounds = internals.upperBounds;
  if (!Array.isArray(bounds) || typeof internals.hashMap !== 'object' || internals.hashMap === null) return slow;
  const want: Record<string, unknown> = labels ?? {};
  // The bucket keys as the library writes them (a number used as a property name).
  const names = bounds.map(String);
  let key: string | undefined;
  return (value: number) => {
    const series = key === undefined ? undefined : internals.hashMap?.[key];
    if (series === undefined || !Number.isFinite(value)) {
      slow(value);
      const map = internals.hashMap ?? {};
      key = Object.keys(map).find((k) => sameLabels(map[k]!.labels, want));
      return;
    }
    series.sum += value;
    series.count += 1;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        if (Object.prototype.hasOwnProperty.call(series.bucketValues, names[i]!)) series.bucketValues[names[i]!]! += 1;
        return;
      }
    }
  };
}
