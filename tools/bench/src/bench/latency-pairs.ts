import { createRedisClient, RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { readAckLatencies } from './ack-latency';
import { startBenchRedis } from './bench-stores';
import { ChildGroup, REPO_ROOT, waitUntil } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { gcStats, type GcStats } from './gc-stats';
import { LoadGenerator } from './load-generator';
import { hopSnapshot, hopSplit, scrape } from './service-metrics';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_SECRETS, startDispatcherProcess, startIngressProcess, type StoreUrls } from './service-processes';
import { median } from './stats';

/**
 * Enqueue → ACK-recorded latency at a few fixed rates, Redis v3 layout, with two dispatcher builds
 * taken in turn on one stack (`npm run build && npm run bench:latency`; bench/README.md,
 * "Latency of two builds, paired"). One redis-server, one ingress and 1,000 simulated devices stay up;
 * the dispatcher is this tree's, and with `BENCH_BASE=<repo root of another built tree>` also that
 * tree's, started one at a time in the order base, this, this, base, … (BENCH_PAIRS rounds), each
 * warmed up and then offered each rate for BENCH_STEP_SECONDS, open loop, as the end-to-end
 * section's steps (hop timing on). Prints each run's p50 / p99, the dispatcher's garbage-collection
 * pauses during the step (scavenges: count per second, p50 and longest pause, total pause per 1,000
 * commands; other pauses) and hop p50s, then the median per build and rate and this/base.
 *
 * Env: BENCH_BASE, BENCH_RATES (default `50,1000`), BENCH_STEP_SECONDS (3), BENCH_PAIRS (3),
 * BENCH_PROFILE=<dir> (`--cpu-prof` of each dispatcher, one profile per run), BENCH_THIS (the tree
 * run as "this", default the one this script belongs to: BENCH_THIS=BENCH_BASE measures the noise),
 * BENCH_THIS_NODE_ARGS (space-separated node options for "this" dispatcher only, e.g.
 * `--max-semi-space-size=8`: with BENCH_THIS=BENCH_BASE it pairs one build with and without them).
 */
const BASE = process.env.BENCH_BASE;
const RATES = (process.env.BENCH_RATES ?? '50,1000').split(',').map(Number).filter((r) => r > 0);
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 3);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const PROFILE = process.env.BENCH_PROFILE;
const THIS_NODE_ARGS = (process.env.BENCH_THIS_NODE_ARGS ?? '').split(' ').filter(Boolean);
const GC_OBSERVER = join(__dirname, 'gc-observer.js');
const PREFIX = 'lat';
const DEVICES = 1_000;

interface Run {
  tree: string;
  rate: number;
  p50: number;
  p99: number;
  hops: Record<string, number>;
  gc: GcStats;
  /** Scavenge pause per 1,000 commands offered, ms. */
  gcMsPerK: number;
  /** Dispatcher CPU (user + system, process_cpu_seconds_total) per command offered, µs. */
  cpuUs: number;
  /** Dispatcher read + write system calls (/proc/<pid>/io syscr + syscw) per command offered. */
  syscalls: number;
  /** Dispatcher main-thread wake-ups (voluntary context switches, /proc/<pid>/status) per command offered. */
  wakeups: number;
}

/** Read + write system calls of a process (all its threads) and voluntary context switches of its main thread, so far. */
function ioCounts(pid: number): { syscalls: number; wakeups: number } {
  const field = (text: string, name: string) => Number(/^(\S+):\s+(\d+)$/m.exec(text.split('\n').find((l) => l.startsWith(`${name}:`)) ?? '')?.[2]);
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { syscalls: field(io, 'syscr') + field(io, 'syscw'), wakeups: field(status, 'voluntary_ctxt_switches') };
}

/** The process' CPU seconds so far, from its /metrics text. */
function cpuSeconds(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

async function main(): Promise<void> {
  const group = new ChildGroup();
  const held: { client?: ReturnType<typeof createRedisClient>; fleet?: FleetProcess; redis?: { stop(): Promise<void> } } = {};
  try {
    const redis = await startBenchRedis(group, 'lat-redis');
    held.redis = redis;
    const stores: StoreUrls = { backend: 'redis', redisUrl: redis.url, prefix: PREFIX };
    const ingress = await startIngressProcess(group, 'lat-ingress', stores);
    const fleet = new FleetProcess(group, 'lat-fleet', { host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: DEVICES, idPrefix: 'DEV' });
    held.fleet = fleet;
    await fleet.waitConnected();
    held.client = createRedisClient({ url: redis.url });
    const queue = new ValidatedQueue(new RedisQueueV3(held.client, { prefix: PREFIX, liveness: false }));
    const phyIds = Array.from({ length: DEVICES }, (_, i) => fleetPhyId('DEV', DEVICES, i));
    let expected = 0;
    const drained = () => waitUntil(`${expected} ACKs at the devices`, 60_000, async () => fleet.counters.applied >= expected);

    const trees: Array<{ name: string; root: string }> = [{ name: 'this', root: process.env.BENCH_THIS ?? REPO_ROOT }];
    if (BASE) trees.unshift({ name: 'base', root: BASE });
    const order: typeof trees = [];
    for (let i = 0; i < PAIRS; i++) order.push(...(i % 2 === 0 ? trees : [...trees].reverse()));
    const runs: Run[] = [];
    const gcDir = mkdtempSync(join(tmpdir(), 'lat-gc-'));
    for (const [run, tree] of order.entries()) {
      const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=dispatcher-${tree.name}-${run}.cpuprofile`] : [];
      const gcFile = join(gcDir, `dispatcher-${run}.gc`);
      const nodeArgs = ['--require', GC_OBSERVER, ...(tree.name === 'this' ? THIS_NODE_ARGS : []), ...prof];
      const dispatcher = await startDispatcherProcess(group, `lat-dispatcher-${tree.name}`, stores, { DISPATCHER_HOP_TIMING: 'true', QUEUE_REDIS_LAYOUT: 'v3', BENCH_GC_FILE: gcFile }, nodeArgs, 30_000, tree.root);
      const producer = new LoadGenerator({ apiUrl: dispatcher.apiUrl, phyIds });
      try {
        expected += (await producer.openLoop(2_000, 1)).ids.length;
        await drained();
        for (const rate of RATES) {
          const beforeText = await scrape(dispatcher.apiUrl);
          const beforeIo = ioCounts(dispatcher.pid);
          const before = hopSnapshot(beforeText);
          const stepStart = Date.now();
          const produced = await producer.openLoop(rate, STEP_SECONDS);
          expected += produced.ids.length;
          await drained();
          const stepEnd = Date.now();
          const afterIo = ioCounts(dispatcher.pid);
          const afterText = await scrape(dispatcher.apiUrl);
          const hops = hopSplit(before, hopSnapshot(afterText));
          const cpuUs = Math.round(((cpuSeconds(afterText) - cpuSeconds(beforeText)) * 1e6) / Math.max(1, produced.ids.length));
          const read = await readAckLatencies(queue, produced, { timeoutMs: 5_000 });
          // The observer writes every 500 ms: wait for the step's last pauses to reach the file.
          await new Promise((resolve) => setTimeout(resolve, 600));
          const gc = gcStats(gcFile, stepStart, stepEnd);
          const gcMsPerK = r2((gc.minorTotalMs / Math.max(1, produced.ids.length)) * 1000);
          const run: Run = { tree: tree.name, rate, p50: read.latency.p50, p99: read.latency.p99, hops: Object.fromEntries(Object.entries(hops).map(([h, s]) => [h, s.p50Ms])), gc, gcMsPerK, cpuUs,
            syscalls: r2((afterIo.syscalls - beforeIo.syscalls) / Math.max(1, produced.ids.length)), wakeups: r2((afterIo.wakeups - beforeIo.wakeups) / Math.max(1, produced.ids.length)) };
          runs.push(run);
          const seconds = (stepEnd - stepStart) / 1000;
          console.log(`${tree.name.padEnd(4)} ${String(rate).padStart(5)}/s p50 ${run.p50} p99 ${run.p99} ms${read.notAcked ? ` (${read.notAcked} not acked)` : ''}; dispatcher CPU ${cpuUs} µs, ${run.syscalls} syscalls, ${run.wakeups} wake-ups per command; `
            + `scavenges ${r2(gc.minorCount / seconds)}/s p50 ${r2(gc.minorP50Ms)} max ${r2(gc.minorMaxMs)} ms, ${gcMsPerK} ms per 1k commands; other GC ${gc.otherCount} (${r2(gc.otherTotalMs)} ms); `
            + `hop p50s ${Object.entries(run.hops).filter(([, v]) => v > 0.06).map(([h, v]) => `${h} ${v}`).join(', ')}`);
        }
      } finally {
        await producer.close();
        await group.stop(`lat-dispatcher-${tree.name}`, 20_000);
      }
    }
    console.log(`\nmedian of ${PAIRS} runs per build (${STEP_SECONDS} s per rate)`);
    for (const rate of RATES) {
      const of = (name: string, key: 'p50' | 'p99' | 'gcMsPerK' | 'cpuUs' | 'syscalls' | 'wakeups' | 'scavengeP50') => median(runs.filter((r) => r.tree === name && r.rate === rate)
        .map((r) => (key === 'scavengeP50' ? r.gc.minorP50Ms : r[key])));
      const build = (name: string) => `${name} p50 ${r2(of(name, 'p50'))} p99 ${r2(of(name, 'p99'))} scavenge p50 ${r2(of(name, 'scavengeP50'))} ms, ${r2(of(name, 'gcMsPerK'))} ms/1k, CPU ${of(name, 'cpuUs')} µs, ${r2(of(name, 'syscalls'))} syscalls, ${r2(of(name, 'wakeups'))} wake-ups per command`;
      const line = [`${rate}/s:`, build('this')];
      if (BASE) {
        const ratio = (key: 'p50' | 'p99' | 'gcMsPerK' | 'cpuUs' | 'syscalls' | 'wakeups') => r2(of('this', key) / of('base', key));
        line.push(build('base'), `this/base p50 ${ratio('p50')} p99 ${ratio('p99')} scavenge ms/1k ${ratio('gcMsPerK')} CPU ${ratio('cpuUs')} syscalls ${ratio('syscalls')} wake-ups ${ratio('wakeups')}`);
      }
      console.log(line.join('  '));
    }
  } finally {
    held.client?.disconnect();
    await held.fleet?.stop();
    await group.stopAll(20_000);
    await held.redis?.stop();
  }
}

// Interrupted: exit, so the child group's exit hook kills what it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
