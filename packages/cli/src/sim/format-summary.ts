import type { FleetSummary } from './device-fleet';

/** One line for a terminal: counts, then latency percentiles of command -> ACK. */
export function formatSummary(summary: FleetSummary): string {
  const l = summary.latencyMs;
  return [
    `connected ${summary.connected}/${summary.devices}`,
    `received ${summary.received}`,
    `applied ${summary.applied}`,
    `duplicates ${summary.duplicates}`,
    `acked ${summary.acked}`,
    `rejected ${summary.rejected}`,
    `busy ${summary.busy}`,
    `no-ack ${summary.noAck}`,
    `connects ${summary.connects}`,
    `churned ${summary.churned}`,
    `ack latency ms p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max}`,
  ].join(' | ');
}
