import type { ConnectionScaleResult } from './connection-scale';
import type { E2eResult, E2eStep } from './end-to-end';
import type { QueueCoreResult } from './queue-core-compare';
import type { RawTcpResult } from './raw-tcp';

/** Everything one `outbound bench` run measured; written as JSON to bench/results/. */
export interface BenchReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationSeconds: number;
  command: string;
  host: { cpus: number; cpuModel: string; memoryGb: number; node: string; loadAverageAtStart: number[]; redis: string };
  endToEnd: E2eResult[];
  rawTcp?: RawTcpResult;
  queueCore?: QueueCoreResult;
  connectionScale?: ConnectionScaleResult;
  targets: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

const fmt = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US'));
const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : n < 10 ? n.toFixed(2) : n.toFixed(1));

function stepAt(result: E2eResult | undefined, rate: number): E2eStep | undefined {
  return result?.steps.find((s) => s.offeredPerSec === rate);
}

/** Redis CPU per command of the default layout at claim batch `batch` against BullMQ's per job at that concurrency, same run. */
function redisCpuAgainstBullmq(core: BenchReport['queueCore'], batch: number): { outbound: number; bullmq: number; ratio: number } | undefined {
  const row = (core?.defaultLayout === 'v3' ? core.redisV3 : core?.redis)?.find((r) => r.batch === batch);
  const bull = core?.bullmq.find((b) => b.concurrency === batch);
  const outbound = row?.redisCpuUsPerCmd;
  const bullmq = bull?.redisCpuUsPerJob;
  if (outbound === undefined || bullmq === undefined || !(bullmq > 0)) return undefined;
  return { outbound, bullmq, ratio: outbound / bullmq };
}

/** The performance targets, each against what this run measured (null: not measured). */
export function checkTargets(report: Omit<BenchReport, 'targets'>): TargetCheck[] {
  const redis = report.endToEnd.find((r) => r.backend === 'redis' && !r.error);
  const pg = report.endToEnd.find((r) => r.backend === 'postgres' && !r.error);
  const raw = report.rawTcp?.roundTripsPerSec;
  const r50 = stepAt(redis, 50);
  const r1000 = stepAt(redis, 1_000);
  const p500 = stepAt(pg, 500);
  const core64 = (report.queueCore?.defaultLayout === 'v3' ? report.queueCore.redisV3 : report.queueCore?.redis)?.find((r) => r.batch === 64);
  const ratio = report.queueCore?.redisBatch64OverBullmq;
  const cpu64 = redisCpuAgainstBullmq(report.queueCore, 64);
  const cpu1 = redisCpuAgainstBullmq(report.queueCore, 1);
  const scale = report.connectionScale;
  const check = (target: string, measured: string, met: boolean | undefined): TargetCheck => ({ target, measured, met: met === undefined ? null : met });
  return [
    check('Redis e2e >= 20,000 commands/s', `${fmt(redis?.max.ackedPerSec)}/s`, redis ? redis.max.ackedPerSec >= 20_000 && redis.max.leftBehind === 0 : undefined),
    check('Redis e2e >= 0.3 of raw TCP', redis && raw ? (redis.max.ackedPerSec / raw).toFixed(2) : 'n/a', redis && raw ? redis.max.ackedPerSec / raw >= 0.3 : undefined),
    check('Redis at 50/s (idle): p50 <= 3 ms', `${ms(r50?.latencyMs.p50)} ms`, r50 ? r50.latencyMs.p50 <= 3 : undefined),
    check('Redis at 1,000/s: p50 <= 3 ms', `${ms(r1000?.latencyMs.p50)} ms`, r1000 ? r1000.latencyMs.p50 <= 3 : undefined),
    check('Redis at 1,000/s: p99 <= 15 ms', `${ms(r1000?.latencyMs.p99)} ms`, r1000 ? r1000.latencyMs.p99 <= 15 : undefined),
    check('PostgreSQL e2e >= 6,000 commands/s', `${fmt(pg?.max.ackedPerSec)}/s`, pg ? pg.max.ackedPerSec >= 6_000 && pg.max.leftBehind === 0 : undefined),
    check('PostgreSQL at 500/s: p99 <= 50 ms', `${ms(p500?.latencyMs.p99)} ms`, p500 ? p500.latencyMs.p99 <= 50 : undefined),
    check('Queue core Redis batch 64 >= 60,000/s', `${fmt(core64?.endToEndPerSec)}/s`, core64 ? core64.endToEndPerSec >= 60_000 : undefined),
    check('Queue core Redis batch 64 >= 2.5x BullMQ', ratio !== undefined && !Number.isNaN(ratio) ? `${ratio}x` : 'n/a', ratio !== undefined && !Number.isNaN(ratio) ? ratio >= 2.5 : undefined),
    check('Queue core Redis CPU/command at batch 64 <= 1/3 of BullMQ (concurrency 64)', cpu64 ? `${cpu64.ratio.toFixed(2)}x (${cpu64.outbound.toFixed(1)} vs ${cpu64.bullmq.toFixed(1)} µs)` : 'n/a', cpu64 ? cpu64.ratio <= 1 / 3 : undefined),
    check('Queue core Redis CPU/command at batch 1 <= BullMQ (concurrency 1)', cpu1 ? `${cpu1.ratio.toFixed(2)}x (${cpu1.outbound.toFixed(1)} vs ${cpu1.bullmq.toFixed(1)} µs)` : 'n/a', cpu1 ? cpu1.ratio <= 1 : undefined),
    check('One ingress holds 50,000 devices', scale ? `${fmt(scale.heldDevices)}${scale.limitedBy ? ' (capped by the open-files limit)' : ''}` : 'n/a', scale ? scale.heldDevices >= 50_000 : undefined),
    check('<= 10 KB RSS per idle connection', scale ? `${scale.rssKbPerConnection} KB` : 'n/a', scale && !scale.error ? scale.rssKbPerConnection <= 10 : undefined),
  ];
}

/** The run as markdown: tables next to the replaced system's claims, then the targets. */
export function renderMarkdown(report: BenchReport, chartFile?: string): string {
  const lines: string[] = [];
  const h = report.host;
  lines.push(`# Outbound benchmark (${report.mode} run, ${report.startedAt})`, '');
  lines.push(`\`${report.command}\` took ${Math.round(report.durationSeconds)} s on ${h.cpus} cores (${h.cpuModel}), ${h.memoryGb} GB, Node ${h.node}, ${h.redis}; load average at start ${h.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}. Everything on one host: redis-server, PostgreSQL, ingress, dispatcher, the device fleet and the producer each in their own process, sharing ${h.cpus} cores.`, '');
  if (report.endToEnd.length > 0) renderEndToEnd(lines, report, chartFile);
  renderRest(lines, report);
  return `${lines.join('\n')}\n`;
}

function renderEndToEnd(lines: string[], report: BenchReport, chartFile: string | undefined): void {
  const redis = report.endToEnd.find((r) => r.backend === 'redis');
  const pg = report.endToEnd.find((r) => r.backend === 'postgres');
  const raw = report.rawTcp?.roundTripsPerSec;
  lines.push('## End to end: producer → API (batch enqueue) → queue → dispatcher → ingress → 1,000 devices → ACK recorded', '');
  const e2eCell = (r: E2eResult | undefined, f: (r: E2eResult) => string) => (!r ? 'not run' : r.error ? 'failed (below)' : f(r));
  const lat = (r: E2eResult | undefined, rate: number) => e2eCell(r, (x) => {
    const s = stepAt(x, rate);
    if (s?.overCapacity) return `over capacity (max ${fmt(x.max.ackedPerSec)}/s)`;
    return s ? `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p95)} / ${ms(s.latencyMs.p99)}` : 'n/a';
  });
  const eighty = (r: E2eResult | undefined) => r?.steps.find((s) => s.eightyPercentOfMax);
  lines.push(`| | Outbound on Redis${redis?.redisLayout ? ` (${redis.redisLayout} layout)` : ''} | Outbound on PostgreSQL | replaced system (claimed, never load-tested) |`);
  lines.push('|---|---:|---:|---|');
  lines.push(`| highest sustained throughput (ACKed/s, nothing left behind) | ${e2eCell(redis, (x) => `${fmt(x.max.ackedPerSec)}/s`)} | ${e2eCell(pg, (x) => `${fmt(x.max.ackedPerSec)}/s`)} | ~1,000/s (Redis), ~100/s (PostgreSQL) |`);
  lines.push(`| left behind after the drain | ${e2eCell(redis, (x) => String(x.max.leftBehind))} | ${e2eCell(pg, (x) => String(x.max.leftBehind))} | |`);
  lines.push(`| fraction of the raw TCP limit (${fmt(raw)} round trips/s) | ${e2eCell(redis, (x) => (raw ? (x.max.ackedPerSec / raw).toFixed(2) : 'n/a'))} | ${e2eCell(pg, (x) => (raw ? (x.max.ackedPerSec / raw).toFixed(2) : 'n/a'))} | |`);
  for (const rate of [500, 1_000, 5_000]) {
    lines.push(`| enqueue-to-ACK p50 / p95 / p99 ms at ${fmt(rate)}/s | ${lat(redis, rate)} | ${lat(pg, rate)} | ${rate === 1_000 ? '1–5 ms (Redis), 10–50 ms (PostgreSQL)' : ''} |`);
  }
  lines.push(`| … at 80% of max (Redis ${fmt(eighty(redis)?.offeredPerSec)}/s, PostgreSQL ${fmt(eighty(pg)?.offeredPerSec)}/s) | ${eighty(redis) ? lat(redis, eighty(redis)!.offeredPerSec) : 'n/a'} | ${eighty(pg) ? lat(pg, eighty(pg)!.offeredPerSec) : 'n/a'} | |`);
  lines.push('');
  for (const r of report.endToEnd) if (r.error) lines.push(`**${r.backend} failed:** ${r.error}`, '');
  lines.push('Latency runs from each command\'s intended send time (open-loop producer) to the `updatedAt` the queue store wrote when it recorded the ACK (±0.5 ms: the stores keep whole milliseconds).');
  if (chartFile) lines.push('', `![latency against offered load](${chartFile})`);
  for (const r of report.endToEnd) {
    if (r.error) continue;
    if (r.steps.every((x) => x.overCapacity)) {
      lines.push('', `### ${label(r)}`, '', `Every fixed rate was over 1.5× the measured maximum (${fmt(r.max.ackedPerSec)}/s): no latency step ran.`);
    } else lines.push('', `### ${label(r)}: every step`, '', '| offered/s | accepted | p50 ms | p95 ms | p99 ms | max ms | enqueue answer p50 / p99 ms | not acked |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of r.steps.filter((x) => !x.overCapacity)) {
      lines.push(`| ${fmt(s.offeredPerSec)}${s.eightyPercentOfMax ? ' (80%)' : ''} | ${fmt(s.accepted)} | ${ms(s.latencyMs.p50)} | ${ms(s.latencyMs.p95)} | ${ms(s.latencyMs.p99)} | ${ms(s.latencyMs.max)} | ${ms(s.enqueueAnswerMs.p50)} / ${ms(s.enqueueAnswerMs.p99)} | ${s.notAcked} |`);
    }
    renderSplit(lines, r);
    if (r.max.redisPerCommand) {
      // commandstats counts a script's redis.call()s both under evalsha and under their own names.
      const rows = Object.entries(r.max.redisPerCommand).sort((a, b) => b[1].usec - a[1].usec);
      const scripts = r.max.redisPerCommand.evalsha;
      const others = rows.filter(([k]) => k !== 'evalsha');
      lines.push('', `Redis server time per ACKed command in the steady window (INFO commandstats): Lua scripts ${scripts ? `${scripts.usec} µs in ${scripts.calls} EVALSHA calls` : 'n/a'}, their redis.call()s and direct commands: ${others.slice(0, 8).map(([k, v]) => `${k} ${v.calls}× ${v.usec} µs`).join(', ')}.`);
    }
    lines.push('', `Saturation: ${fmt(r.max.accepted)} accepted in ${r.max.seconds} s, drained ${r.max.drainMs} ms after the producer stopped, ${r.max.duplicatesAtDevices} duplicates at the devices; CPU cores used in the steady window: ${Object.entries(r.max.cpuCores).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  }
}

/** The backend, with the Redis layout it ran. */
function label(r: E2eResult): string {
  return r.redisLayout ? `${r.backend} (${r.redisLayout} layout)` : r.backend;
}

/** Per step: where a command's time went (hop p50 / mean), CPU µs per command per process, event-loop delay p99. */
function renderSplit(lines: string[], r: E2eResult): void {
  const steps = r.steps.filter((x) => !x.overCapacity && (x.hops || x.cpuUsPerCommand));
  if (steps.length === 0) return;
  lines.push('', `Per step (${label(r)}): hop p50 / mean ms (DISPATCHER_HOP_TIMING, docs/operations.md "Where the time goes"; the enqueue answer is the producer's), CPU µs per command, event-loop delay p99 ms beyond the 10 ms sampling interval.`, '');
  lines.push(`| | ${steps.map((x) => `${fmt(x.offeredPerSec)}/s`).join(' | ')} |`, `|---|${steps.map(() => '---:').join('|')}|`);
  lines.push(`| enqueue answer p50 | ${steps.map((x) => ms(x.enqueueAnswerMs.p50)).join(' | ')} |`);
  if (steps.some((x) => x.enqueueRoundTripMs)) lines.push(`| its round trip p50 (without the producer's lateness) | ${steps.map((x) => ms(x.enqueueRoundTripMs?.p50)).join(' | ')} |`);
  const hops = [...new Set(steps.flatMap((x) => Object.keys(x.hops ?? {})))];
  for (const hop of hops) lines.push(`| ${hop} | ${steps.map((x) => (x.hops?.[hop] ? `${x.hops[hop]!.p50Ms} / ${x.hops[hop]!.meanMs}` : '')).join(' | ')} |`);
  lines.push(`| **enqueue → ACK recorded p50** | ${steps.map((x) => `**${ms(x.latencyMs.p50)}**`).join(' | ')} |`);
  const processes = [...new Set(steps.flatMap((x) => Object.keys(x.cpuUsPerCommand ?? {})))];
  for (const name of processes) lines.push(`| CPU µs/command: ${name} | ${steps.map((x) => fmt(x.cpuUsPerCommand?.[name])).join(' | ')} |`);
  if (steps.some((x) => x.redisCallsPerCommand)) {
    lines.push(`| Redis per command: scripts / commands run (script calls included) | ${steps.map((x) => (x.redisCallsPerCommand ? `${x.redisCallsPerCommand.evalsha ?? 0} / ${Math.round(Object.entries(x.redisCallsPerCommand).filter(([k]) => k !== 'evalsha').reduce((sum, [, v]) => sum + v, 0))}` : '')).join(' | ')} |`);
  }
  for (const name of ['ingress', 'dispatcher']) lines.push(`| loop delay p99: ${name} | ${steps.map((x) => (x.loopDelayMs?.[name] ? String(x.loopDelayMs[name]!.p99Ms) : '')).join(' | ')} |`);
  if (r.max.cpuUsPerCommand) lines.push('', `CPU µs per ACKed command at saturation (hop timing off, as deployed): ${Object.entries(r.max.cpuUsPerCommand).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}.`);
}

function renderRest(lines: string[], report: BenchReport): void {
  if (report.rawTcp) lines.push('', `## Raw limit`, '', `${fmt(report.rawTcp.roundTripsPerSec)} request/response round trips/s between two Node processes over ${fmt(report.rawTcp.connections)} TCP connections on 127.0.0.1 (${report.rawTcp.messageBytes}-byte messages, one outstanding per connection, ${report.rawTcp.seconds} s).`);
  if (report.queueCore) {
    const q = report.queueCore;
    lines.push('', `## Queue core: enqueue + claim + ack, ${fmt(q.commands)} commands over 1,000 devices, median of ${q.runs}`, '');
    const cpu = (us: number | undefined) => (us === undefined ? '–' : us.toFixed(1));
    lines.push('| backend | claim batch / worker concurrency | enqueue/s | claim+ack/s | enqueue+claim+ack/s | Redis CPU µs/command |', '|---|---:|---:|---:|---:|---:|');
    for (const r of q.redis) lines.push(`| Outbound RedisQueue (v2 layout) | ${r.batch} | ${fmt(r.enqueuePerSec)} | ${fmt(r.claimAckPerSec)} | ${fmt(r.endToEndPerSec)} | ${cpu(r.redisCpuUsPerCmd)} |`);
    for (const r of q.redisV3 ?? []) lines.push(`| Outbound RedisQueueV3 (v3 layout) | ${r.batch} | ${fmt(r.enqueuePerSec)} | ${fmt(r.claimAckPerSec)} | ${fmt(r.endToEndPerSec)} | ${cpu(r.redisCpuUsPerCmd)} |`);
    for (const r of q.postgres) lines.push(`| Outbound PostgresQueue | ${r.batch} | ${fmt(r.enqueuePerSec)} | ${fmt(r.claimAckPerSec)} | ${fmt(r.endToEndPerSec)} | – |`);
    for (const b of q.bullmq) lines.push(`| BullMQ (same redis-server) | concurrency ${b.concurrency} | ${fmt(b.addPerSec)} | ${fmt(b.processPerSec)} | ${fmt(b.endToEndPerSec)} | ${cpu(b.redisCpuUsPerJob)} |`);
    lines.push('', `Outbound on Redis (${q.defaultLayout ?? 'v2'} layout, the default) with claim batches of 64 does **${q.redisBatch64OverBullmq}×** the best BullMQ configuration.`);
    const against = [1, 64].flatMap((batch) => {
      const c = redisCpuAgainstBullmq(q, batch);
      return c ? [`batch ${batch} ${c.outbound.toFixed(1)} against ${c.bullmq.toFixed(1)} µs (**${c.ratio.toFixed(2)}×**)`] : [];
    });
    if (against.length) lines.push('', `Redis CPU per command (used_cpu_user + used_cpu_sys over a run; Outbound: median of the runs, BullMQ: its run nearest the median rate), against BullMQ's per job at the same concurrency: ${against.join('; ')}.`);
    if (q.errors.length) lines.push('', ...q.errors.map((e) => `- error: ${e}`));
  }
  if (report.connectionScale) {
    const c = report.connectionScale;
    lines.push('', '## Connection scale: one ingress process', '', '| requested | held | handshakes/s | RSS baseline → connected | RSS per connection |', '|---:|---:|---:|---:|---:|');
    lines.push(`| ${fmt(c.requestedDevices)} | ${fmt(c.heldDevices)} | ${fmt(c.handshakesPerSec)} | ${c.rssBaselineMb} MB → ${c.rssConnectedMb} MB | ${c.rssKbPerConnection} KB |`);
    if (c.limitedBy) lines.push('', `Capped at ${fmt(c.attemptedDevices)}: ${c.limitedBy}.`);
    if (c.error) lines.push('', `Error: ${c.error}`);
  }
  lines.push('', '## Targets', '', '| target | measured | met |', '|---|---:|:---:|');
  for (const t of report.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`);
}
