/** What one soak interval measured. */
export interface SoakInterval {
  index: number;
  /** Seconds since the load started, at the end of this interval. */
  endSeconds: number;
  /** Commands the API accepted / refused in this interval. */
  sent: number;
  refused: number;
  /** Outcomes the dispatchers recorded in this interval. */
  acked: number;
  rejected: number;
  busy: number;
  /** COMMAND frames a device got again for a command it had already answered. */
  redelivered: number;
  /** Queued at the end of the interval: pending, in flight, delayed, waiting for the device. */
  queued: number;
  /** Median RSS of each process over the interval (sampled every 5 s), MB. */
  rssMb: Record<string, number>;
  /** Redis used_memory (or the PostgreSQL database size) at the end of the interval. */
  storeBytes: number;
  /** Commands the store holds from this run: finished (kept for the retention period) + queued. */
  retained: number;
  /** (storeBytes − the store's bytes before the load) / retained. */
  bytesPerRetained: number;
  /** Event-loop delay over the interval: the services' own metrics, and this process's monitor. */
  loopDelayMs: Record<string, { p99Ms: number; maxMs: number }>;
}

export interface SoakReport {
  startedAt: string;
  durationSeconds: number;
  host: { cpus: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; node: string };
  command: string;
  settings: Record<string, unknown> & { backend: string; offeredPerSec: number; intervalSeconds: number; warmupIntervals: number; payloadBytes: number };
  intervals: SoakInterval[];
  totals: {
    sent: number; refused: number; acked: number; rejected: number; busyAnswers: number; retries: number; deadLettered: number;
    expired: number; redeliveredAtDevices: number; queuedAtEnd: number; lost: number; drained: boolean;
    connectionsDropped: number; handshakes: number;
  };
  store: { baselineBytes: number; finalBytes: number | null; bytesPerRetainedCommand: number | null };
  /** Per process: the least-squares line through the interval medians after warm-up, its end over its start, in percent (null: too few points). */
  rssTrendPercent: Record<string, number | null>;
  failures: string[];
  passed: boolean;
}

/**
 * How much a series trends: fits a least-squares line through the points and answers how far
 * its end lies from its start, in percent of the start. A single GC or a noisy sample moves the
 * line far less than comparing the first and last points would. Null with fewer than 3 points.
 */
export function rssTrendPercent(values: number[]): number | null {
  const points = values.map((y, x) => ({ x, y })).filter((p) => Number.isFinite(p.y));
  if (points.length < 3) return null;
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - meanX) * (p.y - meanY);
    sxx += (p.x - meanX) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const first = points[0]!.x;
  const last = points[n - 1]!.x;
  const start = meanY + slope * (first - meanX);
  const end = meanY + slope * (last - meanX);
  return start > 0 ? ((end - start) / start) * 100 : null;
}

const n = (v: number): string => v.toLocaleString('en-US');

/** The run as markdown: settings, the per-interval table, totals and the verdict. */
export function renderSoakMarkdown(report: SoakReport): string {
  const s = report.settings;
  const processes = Object.keys(report.intervals[0]?.rssMb ?? {});
  const loops = Object.keys(report.intervals[0]?.loopDelayMs ?? {});
  const t = report.totals;
  const lines = [
    `# Soak run ${report.startedAt}`,
    '',
    `\`${report.command}\``,
    '',
    `${s.backend}${typeof s.layout === 'string' ? ` (${s.layout} layout)` : ''}, ${String(s.devices)} devices, ${s.offeredPerSec}/s offered${s.measuredMaxPerSec ? ` (${String(s.fraction)} of the measured maximum ${String(s.measuredMaxPerSec)}/s)` : ''}, `
      + `${s.payloadBytes}-byte payloads, intervals of ${s.intervalSeconds} s (first ${s.warmupIntervals} are warm-up), `
      + `${report.host.cpus} cores, load average ${report.host.loadAverageAtStart.join(' ')} at the start and ${report.host.loadAverageAtEnd.join(' ')} at the end, Node ${report.host.node}.`,
    '',
    `**${report.passed ? 'PASSED' : 'FAILED'}**${report.failures.length ? `: ${report.failures.join('; ')}` : ''}`,
    '',
    `| interval | sent | acked | rejected | queued | re-delivered | ${processes.map((p) => `${p} RSS MB`).join(' | ')} | store MB | bytes / retained command | ${loops.map((l) => `${l} loop p99 / max ms`).join(' | ')} |`,
    `|${'---:|'.repeat(6 + processes.length + 2 + loops.length)}`,
    ...report.intervals.map((x) => `| ${x.index}${x.index <= s.warmupIntervals ? ' (warm-up)' : ''} | ${n(x.sent)} | ${n(x.acked)} | ${n(x.rejected)} | ${n(x.queued)} | ${n(x.redelivered)} | `
      + `${processes.map((p) => x.rssMb[p] ?? '').join(' | ')} | ${(x.storeBytes / 1024 / 1024).toFixed(1)} | ${n(x.bytesPerRetained)} | `
      + `${loops.map((l) => `${x.loopDelayMs[l]?.p99Ms ?? ''} / ${x.loopDelayMs[l]?.maxMs ?? ''}`).join(' | ')} |`),
    '',
    `RSS trend after warm-up (least-squares line, end over start): ${Object.entries(report.rssTrendPercent).map(([p, v]) => `${p} ${v === null ? 'n/a' : `${v > 0 ? '+' : ''}${v}%`}`).join(', ')}.`,
    '',
    `Totals: sent ${n(t.sent)}, acked ${n(t.acked)}, rejected ${n(t.rejected)}, dead-lettered ${n(t.deadLettered)}, expired ${n(t.expired)}, `
      + `queued at the end ${n(t.queuedAtEnd)}${t.drained ? '' : ' (not drained in time)'}, **lost ${n(t.lost)}**, re-delivered at the devices ${n(t.redeliveredAtDevices)}, `
      + `BUSY answers ${n(t.busyAnswers)} (retries ${n(t.retries)}), refused by the API ${n(t.refused)}, connections dropped by churn ${n(t.connectionsDropped)} (handshakes ${n(t.handshakes)}).`,
    '',
    `Store: ${report.store.bytesPerRetainedCommand === null ? 'n/a' : `${n(report.store.bytesPerRetainedCommand)} bytes per retained command`} `
      + `(${(report.store.baselineBytes / 1024 / 1024).toFixed(1)} MB before the load, ${report.store.finalBytes === null ? 'n/a' : `${(report.store.finalBytes / 1024 / 1024).toFixed(1)} MB`} at the end).`,
    '',
  ];
  return lines.join('\n');
}
