/**
 * What the end-to-end bench reads from the services' /metrics: the dispatcher's per-hop
 * histogram (DISPATCHER_HOP_TIMING=true) and each process' event-loop delay
 * (`monitorEventLoopDelay`, exported by prom-client's default metrics and reset at every scrape).
 */

/** One hop over one step: how many commands, the mean and the median (interpolated within its bucket), ms. */
export interface HopStats {
  count: number;
  meanMs: number;
  p50Ms: number;
}

/** Event-loop delay since the previous scrape, ms beyond the 10 ms sampling interval prom-client uses. */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** prom-client's default `eventLoopMonitoringPrecision`: each sample is this interval plus the delay. */
const LOOP_SAMPLE_MS = 10;

interface HopSnapshot {
  sum: Map<string, number>;
  count: Map<string, number>;
  /** hop → [upper bound (s), cumulative count] */
  buckets: Map<string, Array<[number, number]>>;
}

export async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  return response.text();
}

function sample(line: string): number {
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

export function hopSnapshot(text: string): HopSnapshot {
  const snap: HopSnapshot = { sum: new Map(), count: new Map(), buckets: new Map() };
  for (const line of text.split('\n')) {
    if (!line.startsWith('outbound_dispatcher_hop_seconds')) continue;
    const hop = /hop="([^"]+)"/.exec(line)?.[1];
    if (!hop) continue;
    if (line.startsWith('outbound_dispatcher_hop_seconds_sum')) snap.sum.set(hop, sample(line));
    else if (line.startsWith('outbound_dispatcher_hop_seconds_count')) snap.count.set(hop, sample(line));
    else if (line.startsWith('outbound_dispatcher_hop_seconds_bucket')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const bound = le === '+Inf' ? Infinity : Number(le);
      const list = snap.buckets.get(hop) ?? [];
      list.push([bound, sample(line)]);
      snap.buckets.set(hop, list);
    }
  }
  return snap;
}

/** The hops observed between two snapshots, in the order a command meets them. */
export function hopSplit(before: HopSnapshot, after: HopSnapshot): Record<string, HopStats> {
  const out: Record<string, HopStats> = {};
  for (const [hop, countAfter] of after.count) {
    const count = countAfter - (before.count.get(hop) ?? 0);
    if (count <= 0) continue;
    const sum = (after.sum.get(hop) ?? 0) - (before.sum.get(hop) ?? 0);
    const earlier = new Map(before.buckets.get(hop) ?? []);
    const buckets = (after.buckets.get(hop) ?? []).map(([le, c]): [number, number] => [le, c - (earlier.get(le) ?? 0)]);
    out[hop] = { count, meanMs: round((sum / count) * 1000), p50Ms: round(median(buckets, count) * 1000) };
  }
  return out;
}

function median(buckets: Array<[number, number]>, count: number): number {
  const half = count / 2;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= half) {
      if (!Number.isFinite(le)) return lower;
      const inBucket = cumulative - below;
      return inBucket > 0 ? lower + ((le - lower) * (half - below)) / inBucket : le;
    }
    lower = le;
    below = cumulative;
  }
  return lower;
}

export function loopDelay(text: string): LoopDelay | undefined {
  const read = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? undefined : Math.max(0, sample(line) * 1000 - LOOP_SAMPLE_MS);
  };
  const [p50, p99, max] = [read('nodejs_eventloop_lag_p50_seconds'), read('nodejs_eventloop_lag_p99_seconds'), read('nodejs_eventloop_lag_max_seconds')];
  if (p50 === undefined || p99 === undefined || max === undefined) return undefined;
  return { p50Ms: round(p50), p99Ms: round(p99), maxMs: round(max) };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
