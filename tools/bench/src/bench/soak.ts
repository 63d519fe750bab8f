#!/usr/bin/env node
/**
 * `npm run soak -- --minutes N [--rate R | --fraction F]`: a long run of the whole stack at a
 * steady load, watching what a short benchmark cannot see: memory that creeps, a Redis that
 * grows faster than the commands it keeps, commands that go missing.
 *
 * It starts its own redis-server (free port, AOF on), optionally a fresh PostgreSQL database
 * (`--backend postgres`), dispatcher(s) and ingress(es) as processes, and fleets of simulated
 * devices that answer like a real fleet (ACK after 1–20 ms, 1% REJECTED, 2% BUSY, 5% of the
 * connections dropped every 10 s, reconnecting). This process is the load generator: open loop
 * at a fixed rate, or a fraction of the maximum it measures first. Every interval (a minute by
 * default) it reports the RSS of every process, Redis used_memory and bytes per retained
 * command, the event-loop delay of the services (their own `nodejs_eventloop_lag_*` metrics)
 * and of this process, and the counts. At the end it waits for the queue to drain, then writes
 * JSON and markdown to bench/results/ and exits non-zero when a command was lost or a process's
 * RSS trended beyond ±10% after the warm-up.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as wait } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createPgPool, createRedisClient, DEFAULT_REDIS_LAYOUT, PostgresQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type CommandQueue } from '@outbound/core';
import { freshPgDatabase, startBenchRedis } from './bench-stores';
import { ChildGroup, REPO_ROOT, rssBytes, sleep, waitUntil } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { epochMs, LoadGenerator, type ProducedCommands } from './load-generator';
import { BENCH_SECRETS, startDispatcherProcess, startIngressProcess, type Backend, type StoreUrls } from './service-processes';
import { rssTrendPercent, renderSoakMarkdown, type SoakInterval, type SoakReport } from './soak-report';

export interface SoakOptions {
  minutes: number;
  /** Commands/s offered; or `fraction` of the maximum measured first. */
  rate?: number;
  fraction?: number;
  backend: Backend;
  /** Redis record layout the dispatchers run (QUEUE_REDIS_LAYOUT), read back with the same layout. */
  layout: 'v2' | 'v3';
  devices: number;
  ingresses: number;
  dispatchers: number;
  intervalSeconds: number;
  /**
   * Intervals left out of the RSS trend (JIT, pools and heaps settling, the devices' memory of
   * command ids filling). Default: 5, or longer when the devices' memory fills later, at most half the run.
   */
  warmupIntervals?: number;
  payloadBytes: number;
  /** Seconds of closed-loop saturation to measure the maximum (with `fraction`). */
  maxSeconds: number;
  /** Most seconds to wait for the queue to empty after the load stops. */
  drainSeconds: number;
  /** RSS trend after warm-up beyond which the run fails, percent. */
  rssTolerancePercent: number;
  out: string;
  log: (line: string) => void;
}

/** How the simulated devices behave: the operator's reference run. */
export const SOAK_DEVICE_BEHAVIOUR = { ackLatencyMs: { min: 1, max: 20 }, rejectRate: 0.01, busyRate: 0.02 } as const;
export const SOAK_CHURN = { intervalMs: 10_000, fraction: 0.05 } as const;

const PREFIX = 'soak';
/** Command ids a simulated device remembers (it holds up to twice as many before forgetting the oldest). */
const DEVICE_ID_MEMORY = 20;
/** A service gets this long to answer /readyz: on a host loaded by other work, 30 s was not always enough. */
const READY_TIMEOUT_MS = 120_000;
const MB = 1024 * 1024;

interface SoakStack {
  group: ChildGroup;
  queue: CommandQueue;
  apiUrls: string[];
  /** Ingress HTTP base URLs (metrics). */
  ingressUrls: string[];
  fleets: FleetProcess[];
  phyIds: string[];
  /** process name → pid, for RSS. */
  pids: Record<string, number>;
  /** Bytes the queue store holds now (Redis used_memory, or the PostgreSQL database's size). */
  storeBytes(): Promise<number>;
  redisUsedMemory(): Promise<number>;
  close(): Promise<void>;
}

async function startSoakStack(options: SoakOptions): Promise<SoakStack> {
  const group = new ChildGroup();
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const redis = await startBenchRedis(group, 'redis-server');
    cleanups.push(() => redis.stop());
    const stores: StoreUrls = { backend: options.backend, redisUrl: redis.url, prefix: PREFIX };
    let pgPool: ReturnType<typeof createPgPool> | undefined;
    if (options.backend === 'postgres') {
      const pg = await freshPgDatabase('outbound_soak');
      cleanups.push(() => pg.drop());
      stores.pgUrl = pg.url;
    }
    const pids: Record<string, number> = { 'redis-server': redis.pid };
    const ingressUrls: string[] = [];
    const tcpPorts: number[] = [];
    for (let i = 1; i <= options.ingresses; i++) {
      const ingress = await startIngressProcess(group, `ingress-${i}`, stores, {}, [], READY_TIMEOUT_MS);
      pids[`ingress-${i}`] = ingress.pid;
      ingressUrls.push(ingress.httpUrl);
      tcpPorts.push(ingress.tcpPort);
    }
    const apiUrls: string[] = [];
    for (let i = 1; i <= options.dispatchers; i++) {
      const dispatcher = await startDispatcherProcess(group, `dispatcher-${i}`, stores, { QUEUE_REDIS_LAYOUT: options.layout }, [], READY_TIMEOUT_MS);
      pids[`dispatcher-${i}`] = dispatcher.pid;
      apiUrls.push(dispatcher.apiUrl);
    }
    // One fleet per ingress, the devices split evenly.
    const fleets: FleetProcess[] = [];
    const phyIds: string[] = [];
    for (let k = 0; k < options.ingresses; k++) {
      const count = Math.floor(options.devices / options.ingresses) + (k < options.devices % options.ingresses ? 1 : 0);
      const idPrefix = `SOAK${k + 1}D`;
      const fleet = new FleetProcess(group, `fleet-${k + 1}`, {
        host: '127.0.0.1', port: tcpPorts[k]!, secret: BENCH_SECRETS.deviceSecret, count, idPrefix,
        behaviour: { ...SOAK_DEVICE_BEHAVIOUR }, churn: { ...SOAK_CHURN },
        // Enough to spot a re-delivery within seconds; small so the fleet's memory levels off early.
        historyLimit: DEVICE_ID_MEMORY, statsIntervalMs: 1_000,
      });
      fleets.push(fleet);
      pids[`fleet-${k + 1}`] = fleet.pid;
      for (let i = 0; i < count; i++) phyIds.push(fleetPhyId(idPrefix, count, i));
    }
    await Promise.all(fleets.map((f) => f.waitConnected()));
    pids['load-generator'] = process.pid;

    const redisClient = createRedisClient({ url: redis.url });
    let queue: CommandQueue;
    if (stores.pgUrl) {
      pgPool = createPgPool({ url: stores.pgUrl, max: 2, applicationName: 'outbound-soak-reader' });
      queue = new ValidatedQueue(new PostgresQueue(pgPool, { prefix: PREFIX }));
    } else {
      // Read with the layout the dispatchers write: the other layout's keys are empty.
      const store = options.layout === 'v3'
        ? new RedisQueueV3(redisClient, { prefix: PREFIX, liveness: false })
        : new RedisQueue(redisClient, { prefix: PREFIX, liveness: false });
      queue = new ValidatedQueue(store);
    }
    const redisUsedMemory = async () => Number(/used_memory:(\d+)/.exec(await redisClient.info('memory'))?.[1] ?? NaN);
    return {
      group, queue, apiUrls, ingressUrls, fleets, phyIds, pids, redisUsedMemory,
      storeBytes: pgPool
        ? async () => Number((await pgPool!.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size')).rows[0]!.size)
        : redisUsedMemory,
      async close() {
        await queue.close().catch(() => undefined);
        redisClient.disconnect();
        await pgPool?.end().catch(() => undefined);
        await Promise.all(fleets.map((f) => f.stop()));
        await group.stopAll(20_000);
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    await group.stopAll(5_000);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

/** Outcomes the dispatchers recorded, summed over all of them (their Prometheus counters). */
interface Outcomes { ok: number; rejected: number; busy: number; retries: number; dead: number; expired: number }

async function readOutcomes(apiUrls: string[]): Promise<Outcomes> {
  const sum = { ok: 0, rejected: 0, busy: 0, retries: 0, dead: 0, expired: 0 };
  for (const url of apiUrls) {
    const text = await scrape(url);
    sum.ok += sample(text, 'outbound_dispatcher_delivered_total', 'outcome="ok"');
    sum.rejected += sample(text, 'outbound_dispatcher_delivered_total', 'outcome="rejected"');
    sum.busy += sample(text, 'outbound_dispatcher_delivered_total', 'outcome="busy"');
    sum.retries += sample(text, 'outbound_dispatcher_retries_total');
    sum.dead += sample(text, 'outbound_dispatcher_dead_lettered_total');
    sum.expired += sample(text, 'outbound_dispatcher_expired_total');
  }
  return sum;
}

async function scrape(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

/** One sample (summed over label sets matching `labelFilter`) from Prometheus text. */
function sample(text: string, name: string, labelFilter = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labelFilter && !line.includes(labelFilter)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Commands still queued (pending, in flight, delayed, waiting for their device); dead letters are finished. */
async function queued(queue: CommandQueue): Promise<number> {
  const { total } = await queue.stats();
  return total.pending + total.inflight + total.delayed + total.waitingForDevice;
}

/**
 * Event-loop delay of one service since the previous scrape: prom-client resets its histogram on
 * every scrape, so both numbers come from one (the soak is the only scraper of its stack).
 */
async function loopDelay(baseUrl: string): Promise<{ p99Ms: number; maxMs: number }> {
  const text = await scrape(baseUrl);
  const p99 = sample(text, 'nodejs_eventloop_lag_p99_seconds');
  const max = sample(text, 'nodejs_eventloop_lag_max_seconds');
  return { p99Ms: round(p99 * 1000, 1), maxMs: round(max * 1000, 1) };
}

const round = (v: number, digits = 0): number => Math.round(v * 10 ** digits) / 10 ** digits;
const median = (values: number[]): number => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};

/**
 * The highest sustained rate: a closed loop with a bounded backlog (about two seconds of ACKs)
 * for `seconds`, ACKs/s counted at the devices over the last 75%.
 */
async function measureMax(stack: SoakStack, producer: LoadGenerator, seconds: number): Promise<number> {
  const applied = () => stack.fleets.reduce((s, f) => s + f.counters.applied + (f.counters.rejected ?? 0), 0);
  const base = applied();
  let steady: { at: number; acked: number } | undefined;
  const marker = setTimeout(() => (steady = { at: epochMs(), acked: applied() }), seconds * 250);
  await producer.saturate(seconds, (accepted) => accepted - (applied() - base), { window: () => 4_000, batch: 500, workers: 4 });
  clearTimeout(marker);
  const end = { at: epochMs(), acked: applied() };
  // Let the backlog drain before the soak starts.
  await waitUntil('the queue to drain after measuring the maximum', 120_000, async () => (await queued(stack.queue)) === 0);
  return steady ? Math.round(((end.acked - steady.acked) * 1000) / (end.at - steady.at)) : 0;
}

export async function runSoak(options: SoakOptions): Promise<{ report: SoakReport; files: string[] }> {
  const startedAt = new Date();
  const log = options.log;
  log(`soak: starting the stack (${options.backend}, ${options.ingresses} ingress, ${options.dispatchers} dispatcher, ${options.devices} devices)`);
  const stack = await startSoakStack(options);
  const producer = new LoadGenerator({ apiUrl: stack.apiUrls[0]!, phyIds: stack.phyIds, payloadBytes: options.payloadBytes });
  // Several dispatchers: the producer spreads its requests over their APIs.
  const producers = stack.apiUrls.map((apiUrl, i) => (i === 0 ? producer : new LoadGenerator({ apiUrl, phyIds: stack.phyIds, payloadBytes: options.payloadBytes })));
  // Ctrl-C (or SIGTERM) ends the load early; the run still drains, reports and stops its processes.
  const stop = new AbortController();
  const interrupt = () => {
    log('soak: interrupted: stopping the load, then draining and reporting what was measured');
    stop.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const ownLoop = monitorEventLoopDelay({ resolution: 10 });
  ownLoop.enable();
  const failures: string[] = [];
  const intervals: SoakInterval[] = [];
  let measuredMax: number | undefined;
  let rate = options.rate ?? 0;
  let drained = false;
  const totals = { sent: 0, refused: 0 };
  let final = { queued: 0, outcomes: { ok: 0, rejected: 0, busy: 0, retries: 0, dead: 0, expired: 0 } as Outcomes, duplicates: 0, churned: 0, connects: 0 };
  let baseline = { storeBytes: 0, redisBytes: 0 };
  const load = loadavg().map((v) => round(v, 2));
  const count = Math.max(1, Math.round((options.minutes * 60) / options.intervalSeconds));
  let warmupIntervals = options.warmupIntervals ?? Math.min(5, Math.floor(count / 2));
  try {
    if (options.fraction !== undefined) {
      log(`soak: measuring the maximum (${options.maxSeconds} s closed loop)`);
      measuredMax = await measureMax(stack, producer, options.maxSeconds);
      if (measuredMax === 0) throw new Error(`no command was ACKed in the steady part of the ${options.maxSeconds} s measurement: give --rate, or a longer --max-seconds`);
      rate = Math.max(1, Math.round(measuredMax * options.fraction));
      log(`soak: maximum ${measuredMax}/s → offering ${rate}/s (${options.fraction} of it)`);
    }
    // The fleet's memory of ids fills after 2 × DEVICE_ID_MEMORY commands per device; until then it grows by design.
    const fillSeconds = (2 * DEVICE_ID_MEMORY * options.devices) / rate;
    warmupIntervals = options.warmupIntervals ?? Math.min(Math.max(5, Math.ceil(fillSeconds / options.intervalSeconds)), Math.floor(count / 2));
    const before = await readOutcomes(stack.apiUrls);
    const fleetSum = (key: 'duplicates' | 'churned' | 'connects') => stack.fleets.reduce((s, f) => s + (f.counters[key] ?? 0), 0);
    const fleetBase = { duplicates: fleetSum('duplicates'), churned: fleetSum('churned'), connects: fleetSum('connects') };
    baseline = { storeBytes: await stack.storeBytes(), redisBytes: await stack.redisUsedMemory() };

    // RSS every 5 s; an interval reports the median of its samples (one GC does not make a trend).
    let rssSamples: Record<string, number[]> = {};
    const sampleRss = () => {
      for (const [name, pid] of Object.entries(stack.pids)) {
        let rss = NaN;
        try {
          rss = rssBytes(pid);
        } catch {
          if (!failures.some((f) => f.startsWith(name))) failures.push(`${name} (pid ${pid}) exited during the run`);
        }
        (rssSamples[name] ??= []).push(rss);
      }
    };
    const rssTimer = setInterval(sampleRss, 5_000);
    log(`soak: ${count} × ${options.intervalSeconds} s at ${rate}/s (load average ${load.join(' ')})`);
    const runStarted = epochMs();
    let previous = before;
    // One open loop per dispatcher for the whole run, batches of 100 ms; the intervals are read
    // off its live counts on the clock, so the run lasts its minutes whatever the answers do.
    const outs: ProducedCommands[] = producers.map(() => ({ ids: [], intendedMs: [], accepted: 0, refused: 0, enqueueAnswerMs: [], startedAt: 0, finishedAt: 0 }));
    const loadDone = Promise.all(producers.map((p, k) => p.openLoop(rate / producers.length, count * options.intervalSeconds, 256, {
      keep: false, tickMs: 100, out: outs[k], signal: stop.signal,
    })));
    const sentSoFar = () => outs.reduce((s, o) => s + o.accepted, 0);
    const refusedSoFar = () => outs.reduce((s, o) => s + o.refused, 0);
    let previousSent = { accepted: 0, refused: 0 };
    try {
      for (let i = 1; i <= count && !stop.signal.aborted; i++) {
        ownLoop.reset();
        await wait(Math.max(0, runStarted + i * options.intervalSeconds * 1000 - epochMs()), undefined, { signal: stop.signal }).catch(() => undefined);
        sampleRss();
        const counted = { accepted: sentSoFar(), refused: refusedSoFar() };
        const sent = counted.accepted - previousSent.accepted;
        const refused = counted.refused - previousSent.refused;
        previousSent = counted;
        const outcomes = await readOutcomes(stack.apiUrls);
        const nowQueued = await queued(stack.queue);
        const storeBytes = await stack.storeBytes();
        const finished = outcomes.ok + outcomes.rejected + outcomes.dead + outcomes.expired - (before.ok + before.rejected + before.dead + before.expired);
        const retained = finished + nowQueued;
        const loops: Record<string, { p99Ms: number; maxMs: number }> = {};
        for (const [k, url] of stack.ingressUrls.entries()) loops[`ingress-${k + 1}`] = await loopDelay(url);
        for (const [k, url] of stack.apiUrls.entries()) loops[`dispatcher-${k + 1}`] = await loopDelay(url);
        loops['load-generator'] = { p99Ms: round(ownLoop.percentile(99) / 1e6, 1), maxMs: round(ownLoop.max / 1e6, 1) };
        const interval: SoakInterval = {
          index: i,
          endSeconds: round((epochMs() - runStarted) / 1000),
          sent, refused,
          acked: outcomes.ok - previous.ok,
          rejected: outcomes.rejected - previous.rejected,
          busy: outcomes.busy - previous.busy,
          redelivered: fleetSum('duplicates') - fleetBase.duplicates - intervals.reduce((s, x) => s + x.redelivered, 0),
          queued: nowQueued,
          rssMb: Object.fromEntries(Object.entries(rssSamples).map(([name, v]) => [name, round(median(v) / MB, 1)])),
          storeBytes,
          retained,
          bytesPerRetained: retained > 0 ? Math.round((storeBytes - baseline.storeBytes) / retained) : 0,
          loopDelayMs: loops,
        };
        rssSamples = {};
        previous = outcomes;
        intervals.push(interval);
        log(`soak: ${formatInterval(interval)}`);
        if (failures.length > 0) stop.abort(); // a process died: the rest would measure nothing
      }
    } finally {
      clearInterval(rssTimer);
      stop.abort();
      await loadDone;
      totals.sent = sentSoFar();
      totals.refused = refusedSoFar();
    }
    log(`soak: load stopped; waiting up to ${options.drainSeconds} s for the queue to drain`);
    try {
      await waitUntil('the queue to drain', options.drainSeconds * 1000, async () => (await queued(stack.queue)) === 0);
      drained = true;
    } catch {
      drained = false;
    }
    await sleep(500); // the last outcomes reach the metrics a few ms after the store
    const outcomes = await readOutcomes(stack.apiUrls);
    final = {
      queued: await queued(stack.queue),
      outcomes: {
        ok: outcomes.ok - before.ok, rejected: outcomes.rejected - before.rejected, busy: outcomes.busy - before.busy,
        retries: outcomes.retries - before.retries, dead: outcomes.dead - before.dead, expired: outcomes.expired - before.expired,
      },
      duplicates: fleetSum('duplicates') - fleetBase.duplicates,
      churned: fleetSum('churned') - fleetBase.churned,
      connects: fleetSum('connects') - fleetBase.connects,
    };
  } catch (error) {
    failures.push(`run failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    ownLoop.disable();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await Promise.all(producers.map((p) => p.close().catch(() => undefined)));
    await stack.close();
  }

  const o = final.outcomes;
  const lost = totals.sent - o.ok - o.rejected - o.dead - o.expired - final.queued;
  if (lost > 0) failures.push(`${lost} accepted commands were neither finished nor still queued (lost)`);
  const warm = intervals.slice(Math.min(warmupIntervals, Math.max(0, intervals.length - 2)));
  const trends: Record<string, number | null> = {};
  for (const name of Object.keys(stack.pids)) {
    const trend = rssTrendPercent(warm.map((x) => x.rssMb[name] ?? NaN));
    trends[name] = trend === null ? null : round(trend, 1);
    // redis-server keeps every finished command for the retention period: it grows by design
    // (bytesPerRetained is its measure). Every other process must level off.
    if (trend !== null && name !== 'redis-server' && Math.abs(trend) > options.rssTolerancePercent) {
      failures.push(`${name} RSS trend ${round(trend, 1)}% after warm-up (tolerance ±${options.rssTolerancePercent}%)`);
    }
  }
  const last = intervals.at(-1);
  const report: SoakReport = {
    startedAt: startedAt.toISOString(),
    durationSeconds: round((Date.now() - startedAt.getTime()) / 1000),
    host: { cpus: cpus().length, loadAverageAtStart: load, loadAverageAtEnd: loadavg().map((v) => round(v, 2)), node: process.version },
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    settings: {
      backend: options.backend, layout: options.backend === 'redis' ? options.layout : null, devices: options.devices, ingresses: options.ingresses, dispatchers: options.dispatchers,
      minutes: options.minutes, intervalSeconds: options.intervalSeconds, warmupIntervals,
      payloadBytes: options.payloadBytes, offeredPerSec: rate, fraction: options.fraction ?? null, measuredMaxPerSec: measuredMax ?? null,
      deviceBehaviour: SOAK_DEVICE_BEHAVIOUR, churn: SOAK_CHURN, rssTolerancePercent: options.rssTolerancePercent,
    },
    intervals,
    totals: {
      sent: totals.sent, refused: totals.refused, acked: o.ok, rejected: o.rejected, busyAnswers: o.busy, retries: o.retries,
      deadLettered: o.dead, expired: o.expired, redeliveredAtDevices: final.duplicates, queuedAtEnd: final.queued, lost,
      drained, connectionsDropped: final.churned, handshakes: final.connects,
    },
    store: {
      baselineBytes: baseline.storeBytes,
      finalBytes: last?.storeBytes ?? null,
      bytesPerRetainedCommand: last?.bytesPerRetained ?? null,
    },
    rssTrendPercent: trends,
    failures,
    passed: failures.length === 0,
  };
  mkdirSync(options.out, { recursive: true });
  const base = join(options.out, `${report.startedAt.replace(/[:.]/g, '').slice(0, 17)}-soak`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, renderSoakMarkdown(report));
  return { report, files: [`${base}.json`, `${base}.md`] };
}

function formatInterval(x: SoakInterval): string {
  const rss = Object.entries(x.rssMb).map(([n, v]) => `${n} ${v}`).join(', ');
  const loops = Object.entries(x.loopDelayMs).map(([n, v]) => `${n} ${v.p99Ms}/${v.maxMs}`).join(', ');
  return `#${x.index} ${x.endSeconds}s sent ${x.sent} acked ${x.acked} rejected ${x.rejected} queued ${x.queued} redelivered ${x.redelivered}`
    + ` | RSS MB: ${rss} | store ${round(x.storeBytes / MB, 1)} MB, ${x.bytesPerRetained} B/retained | loop p99/max ms: ${loops}`;
}

const positive = (integer: boolean) => (text: string) => {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) throw new InvalidArgumentError(`must be a positive ${integer ? 'integer' : 'number'}`);
  return v;
};

function main(): void {
  const program = new Command('soak')
    .description('a long run of the whole stack at a steady load: RSS, store bytes, event-loop delay and lost commands per interval')
    .requiredOption('--minutes <n>', 'how long the load runs (fractions allowed, e.g. 0.5)', positive(false))
    .addOption(new Option('--rate <n>', 'commands per second, open loop').argParser(positive(false)).conflicts('fraction'))
    .addOption(new Option('--fraction <f>', 'share of the maximum measured first (0..1]').argParser(positive(false)))
    .addOption(new Option('--backend <name>', 'queue store').choices(['redis', 'postgres']).default('redis'))
    .addOption(new Option('--layout <name>', 'Redis record layout').choices(['v2', 'v3']).env('QUEUE_REDIS_LAYOUT').default(DEFAULT_REDIS_LAYOUT))
    .option('--devices <n>', 'simulated devices', positive(true), 1_000)
    .option('--ingresses <n>', 'ingress processes (one device fleet each)', positive(true), 1)
    .option('--dispatchers <n>', 'dispatcher processes', positive(true), 1)
    .option('--interval <s>', 'seconds per reported interval', positive(true), 60)
    .option('--warmup <n>', 'intervals left out of the RSS trend (default: 5, longer when the devices\' memory of ids fills later; at most half the run)')
    .option('--payload-bytes <n>', 'payload size', positive(true), 32)
    .option('--max-seconds <s>', 'closed-loop seconds to measure the maximum (with --fraction)', positive(true), 30)
    .option('--drain-seconds <s>', 'most seconds to wait for the queue to empty at the end', positive(true), 180)
    .option('--rss-tolerance <percent>', 'RSS trend after warm-up that fails the run', positive(false), 10)
    .option('--out <dir>', 'where the JSON and markdown go', join(REPO_ROOT, 'bench', 'results'))
    .action(async (flags: {
      minutes: number; rate?: number; fraction?: number; backend: Backend; layout: 'v2' | 'v3'; devices: number; ingresses: number; dispatchers: number;
      interval: number; warmup?: string; payloadBytes: number; maxSeconds: number; drainSeconds: number; rssTolerance: number; out: string;
    }) => {
      if (flags.rate === undefined && flags.fraction === undefined) throw new InvalidArgumentError('give --rate or --fraction');
      if (flags.fraction !== undefined && flags.fraction > 1) throw new InvalidArgumentError('--fraction must be in (0, 1]');
      const warmupIntervals = flags.warmup === undefined ? undefined : Number(flags.warmup);
      const { report, files } = await runSoak({
        minutes: flags.minutes, rate: flags.rate, fraction: flags.fraction, backend: flags.backend, layout: flags.layout, devices: flags.devices,
        ingresses: flags.ingresses, dispatchers: flags.dispatchers, intervalSeconds: flags.interval, warmupIntervals,
        payloadBytes: flags.payloadBytes, maxSeconds: flags.maxSeconds, drainSeconds: flags.drainSeconds,
        rssTolerancePercent: flags.rssTolerance, out: flags.out, log: (line) => console.log(line),
      });
      const t = report.totals;
      console.log(`soak: sent ${t.sent}, acked ${t.acked}, rejected ${t.rejected}, dead ${t.deadLettered}, expired ${t.expired}, queued at end ${t.queuedAtEnd}, lost ${t.lost}, re-delivered ${t.redeliveredAtDevices}, refused ${t.refused}`);
      console.log(`soak: RSS trend after warm-up % ${JSON.stringify(report.rssTrendPercent)}; store ${report.store.bytesPerRetainedCommand} bytes per retained command`);
      console.log(`soak: ${report.passed ? 'PASSED' : `FAILED: ${report.failures.join('; ')}`} (${report.durationSeconds} s)`);
      console.log(`soak: results ${files.map((f) => relative(process.cwd(), f)).join(', ')}`);
      if (!report.passed) process.exitCode = 1;
    });
  program.parseAsync(process.argv).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
  });
}

if (require.main === module) main();
