import { createPgPool, createRedisClient, PostgresQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type CommandQueue, type RedisLayout } from '@outbound/core';
import { percentiles, readAckLatencies, type LatencyStats } from './ack-latency';
import { freshPgDatabase, startBenchRedis } from './bench-stores';
import { ChildGroup, CpuMeter, localPostmaster, REPO_ROOT, sleep, waitUntil } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { epochMs, LoadGenerator } from './load-generator';
import { hopSnapshot, hopSplit, loopDelay, scrape, type HopStats, type LoopDelay } from './service-metrics';
import { BENCH_SECRETS, startDispatcherProcess, startIngressProcess, type Backend, type StoreUrls } from './service-processes';

export interface E2eOptions {
  backend: Backend;
  /** Redis record layout the dispatcher runs (QUEUE_REDIS_LAYOUT); the latencies are read back with the same. */
  redisLayout: RedisLayout;
  devices: number;
  saturationSeconds: number;
  stepSeconds: number;
  /** Fixed offered rates (commands/s); 80% of the measured maximum is added. */
  rates: number[];
  /** Most commands read back per step for latency. */
  sample: number;
  /** Directory for `--cpu-prof` of ingress, dispatcher and fleet (off when unset). */
  profileDir?: string;
  log: (line: string) => void;
}

export interface E2eStep {
  offeredPerSec: number;
  seconds: number;
  accepted: number;
  refused: number;
  /** Intended send time → ACK recorded in the queue. */
  latencyMs: LatencyStats;
  /** Intended send time → the API's answer to the batch enqueue. */
  enqueueAnswerMs: LatencyStats;
  /** The producer's request round trip alone: enqueueAnswerMs less how late the producer's timer sent it. */
  enqueueRoundTripMs?: LatencyStats;
  notAcked: number;
  /** True for the step offered at 80% of the measured maximum. */
  eightyPercentOfMax: boolean;
  /** CPU µs per accepted command, per process, from the step's start until its commands were ACKed. */
  cpuUsPerCommand?: Record<string, number>;
  /** Where the time went, per hop (the dispatcher's outbound_dispatcher_hop_seconds over this step). */
  hops?: Record<string, HopStats>;
  /** Event-loop delay of each service over this step. */
  loopDelayMs?: Record<string, LoopDelay>;
  /** Redis only: server calls per accepted command over this step (EVALSHA = scripts; their redis.call()s counted apart), from INFO commandstats. */
  redisCallsPerCommand?: Record<string, number>;
  /** Not run: the rate is over 1.5x the measured maximum. */
  overCapacity?: boolean;
}

export interface E2eResult {
  backend: Backend;
  /** Redis only: the record layout the dispatcher ran. */
  redisLayout?: RedisLayout;
  devices: number;
  max: {
    /** ACKed commands per second in the steady part of the saturation run. */
    ackedPerSec: number;
    accepted: number;
    refused: number;
    seconds: number;
    /** ms from the end of production until every accepted command was ACKed. */
    drainMs: number;
    /** Commands left pending/in flight/delayed/waiting in the queue after the drain (must be 0). */
    leftBehind: number;
    duplicatesAtDevices: number;
    /** Cores used per process during the steady window. */
    cpuCores: Record<string, number>;
    /** CPU µs per ACKed command per process during the steady window. */
    cpuUsPerCommand?: Record<string, number>;
    /** Redis only: server-side calls and microseconds per ACKed command in the steady window, by command (INFO commandstats). */
    redisPerCommand?: Record<string, { calls: number; usec: number }>;
  };
  steps: E2eStep[];
  error?: string;
}

interface Stack {
  group: ChildGroup;
  /** INFO commandstats of the bench's redis-server: command → {calls, usec}. */
  commandStats(): Promise<Map<string, { calls: number; usec: number }>>;
  queue: CommandQueue;
  apiUrl: string;
  ingressUrl: string;
  fleet: FleetProcess;
  pids: Record<string, number>;
  /**
   * The postmaster of the bench's PostgreSQL when it runs on this host (its CPU is the server's
   * tree, cpuSecondsOfTree), else null: then every process named postgres on the host is counted.
   */
  pgServerPid: number | null;
  /** Per-hop timing asked for the latency steps (BENCH_HOP_TIMING, on unless 0). */
  hopTiming: boolean;
  /** Replaces the dispatcher by one with per-hop timing `on` (apiUrl and pids follow). */
  restartDispatcher(hopTiming: boolean): Promise<void>;
  close(): Promise<void>;
}

const PREFIX = 'bench';

async function startStack(options: E2eOptions): Promise<Stack> {
  const group = new ChildGroup();
  try {
    return await startStackIn(group, options);
  } catch (error) {
    await group.stopAll(5_000);
    throw error;
  }
}

async function startStackIn(group: ChildGroup, options: E2eOptions): Promise<Stack> {
  const prof = (name: string) => (options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`, `--cpu-prof-name=${options.backend}-${name}-${process.pid}.cpuprofile`] : []);
  const redis = await startBenchRedis(group, `${options.backend}-redis`);
  let pg: { url: string; drop(): Promise<void> } | undefined;
  const stores: StoreUrls = { backend: options.backend, redisUrl: redis.url, prefix: PREFIX };
  if (options.backend === 'postgres') {
    pg = await freshPgDatabase('outbound_bench_e2e');
    stores.pgUrl = pg.url;
  }
  // BENCH_SERVICES_ROOT: ingress and dispatcher from another built checkout (the same harness and meters for two builds)
  const root = process.env.BENCH_SERVICES_ROOT ?? REPO_ROOT;
  const ingress = await startIngressProcess(group, `${options.backend}-ingress`, stores, {}, prof('ingress'), 30_000, root);
  // Per-hop timing (clock reads, histogram observations and longer answer lines per command) is
  // off in production: the saturation phase runs without it, so its CPU per command is what a
  // deployment pays; the latency steps then get a dispatcher with it on (BENCH_HOP_TIMING=0: never).
  const hopTiming = process.env.BENCH_HOP_TIMING !== '0';
  const layout = options.backend === 'redis' ? { QUEUE_REDIS_LAYOUT: options.redisLayout } : {};
  const dispatcherName = `${options.backend}-dispatcher`;
  const dispatcher = await startDispatcherProcess(group, dispatcherName, stores, { DISPATCHER_HOP_TIMING: 'false', ...layout }, prof('dispatcher'), 30_000, root);
  const fleet = new FleetProcess(group, `${options.backend}-fleet`, {
    host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: options.devices, idPrefix: 'DEV',
  }, prof('fleet'));
  await fleet.waitConnected();
  let queue: CommandQueue;
  let closeStore: () => Promise<void>;
  let pgServerPid: number | null = null;
  if (pg) {
    const pool = createPgPool({ url: pg.url, max: 16, applicationName: 'outbound-bench-reader' });
    const backend = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    pgServerPid = localPostmaster(backend);
    queue = new ValidatedQueue(new PostgresQueue(pool, { prefix: PREFIX }));
    closeStore = async () => {
      await queue.close();
      await pool.end();
    };
  } else {
    const client = createRedisClient({ url: redis.url });
    // Read with the layout the dispatcher writes: the other layout's keys are empty.
    const store = options.redisLayout === 'v3' ? new RedisQueueV3(client, { prefix: PREFIX, liveness: false }) : new RedisQueue(client, { prefix: PREFIX, liveness: false });
    queue = new ValidatedQueue(store);
    closeStore = async () => {
      await queue.close();
      await client.quit();
    };
  }
  const statsClient = createRedisClient({ url: redis.url });
  const commandStats = async () => {
    const out = new Map<string, { calls: number; usec: number }>();
    for (const m of (await statsClient.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) {
      out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
    }
    return out;
  };
  const stack: Stack = {
    group, queue, apiUrl: dispatcher.apiUrl, ingressUrl: ingress.httpUrl, fleet, commandStats, hopTiming, pgServerPid,
    pids: { redis: redis.pid, ingress: ingress.pid, dispatcher: dispatcher.pid, devices: fleet.pid, producer: process.pid },
    async restartDispatcher(on: boolean) {
      await group.stop(dispatcherName, 20_000);
      const next = await startDispatcherProcess(group, dispatcherName, stores, { DISPATCHER_HOP_TIMING: String(on), ...layout }, prof(on ? 'dispatcher-hops' : 'dispatcher'), 30_000, root);
      stack.apiUrl = next.apiUrl;
      stack.pids.dispatcher = next.pid;
    },
    async close() {
      statsClient.disconnect();
      await closeStore().catch(() => undefined);
      await fleet.stop();
      await group.stopAll(20_000);
      await redis.stop();
      await pg?.drop().catch(() => undefined);
    },
  };
  return stack;
}

/**
 * Waits until the devices applied `expected` distinct commands in total, or `timeoutMs` passes.
 * `applied` counts each command id once (a re-delivered duplicate is re-ACKed but not counted again).
 */
async function drained(stack: Stack, expected: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitUntil(`${expected} ACKs at the devices`, timeoutMs, async () => stack.fleet.counters.applied >= expected);
    return true;
  } catch {
    return false;
  }
}

async function queueLeftovers(queue: CommandQueue): Promise<number> {
  const { total } = await queue.stats();
  return total.pending + total.inflight + total.delayed + total.waitingForDevice + total.dead;
}

/** Redis calls per command between two INFO commandstats readings (the bench's own INFO left out). */
function callsPer(before: Map<string, { calls: number }>, after: Map<string, { calls: number }>, commands: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, a] of after) {
    const calls = a.calls - (before.get(name)?.calls ?? 0);
    if (calls > 0 && name !== 'info') out[name] = Math.round((calls / Math.max(1, commands)) * 100) / 100;
  }
  return out;
}

/**
 * End to end for one backend: producer → public API (batch enqueue over HTTP) → queue →
 * dispatcher → ingress → simulated devices → ACK recorded in the queue. Ingress, dispatcher,
 * the device fleet and redis-server each run in their own process; the producer and the
 * latency read-back run in this one.
 */
export async function runEndToEnd(options: E2eOptions): Promise<E2eResult> {
  const result: E2eResult = {
    backend: options.backend, ...(options.backend === 'redis' ? { redisLayout: options.redisLayout } : {}), devices: options.devices, steps: [],
    max: { ackedPerSec: 0, accepted: 0, refused: 0, seconds: 0, drainMs: 0, leftBehind: 0, duplicatesAtDevices: 0, cpuCores: {} },
  };
  let stack: Stack | undefined;
  try {
    stack = await startStack(options);
    const phyIds = Array.from({ length: options.devices }, (_, i) => fleetPhyId('DEV', options.devices, i));
    let producer = new LoadGenerator({ apiUrl: stack.apiUrl, phyIds });
    let expectedAcks = 0;

    // Warm-up (JIT, pools, Lua script cache): not reported.
    const warm = await producer.openLoop(2_000, 1);
    expectedAcks += warm.ids.length;
    await drained(stack, expectedAcks, 30_000);

    // Highest sustained throughput: closed loop with a bounded backlog, steady window = the last 75%.
    options.log(`  ${options.backend}: saturating for ${options.saturationSeconds} s`);
    const base = { duplicates: stack.fleet.counters.duplicates };
    // PostgreSQL: the bench's server only (its postmaster's tree), not another server on a shared host
    const cpu = options.backend !== 'postgres' ? new CpuMeter(stack.pids)
      : stack.pgServerPid !== null ? new CpuMeter(stack.pids, {}, { postgres: stack.pgServerPid })
      : new CpuMeter(stack.pids, { postgres: 'postgres' });
    let steady: { at: number; acked: number } | undefined;
    let statsBefore: Promise<Map<string, { calls: number; usec: number }>> | undefined;
    const marker = setTimeout(() => {
      steady = { at: epochMs(), acked: stack!.fleet.counters.applied };
      cpu.begin();
      statsBefore = stack!.commandStats();
    }, options.saturationSeconds * 250);
    const fleet = stack.fleet;
    // The backlog allowed is about two seconds of the current ACK rate (2,000..10,000: at least two
    // per device, so every device always has its next command ready), so the drain after the run
    // stays short whatever the backend's speed.
    const rate = { at: epochMs(), applied: fleet.counters.applied, perSec: 0 };
    const rateTimer = setInterval(() => {
      const now = epochMs();
      rate.perSec = ((fleet.counters.applied - rate.applied) * 1000) / (now - rate.at);
      rate.at = now;
      rate.applied = fleet.counters.applied;
    }, 500);
    const window = () => Math.max(2_000, Math.min(10_000, Math.round(rate.perSec * 2)));
    const sat = await producer.saturate(options.saturationSeconds, (accepted) => expectedAcks + accepted - fleet.counters.applied, { window, batch: 500, workers: 4 });
    clearInterval(rateTimer);
    clearTimeout(marker);
    const endSample = { at: epochMs(), acked: fleet.counters.applied };
    if (steady) {
      const used = cpu.seconds();
      const acked = Math.max(1, endSample.acked - steady.acked);
      result.max.cpuUsPerCommand = Object.fromEntries(Object.entries(used).map(([name, seconds]) => [name, Math.round((seconds * 1e6) / acked)]));
    }
    result.max.cpuCores = steady ? cpu.end() : {};
    if (statsBefore && options.backend === 'redis') {
      const [before, after] = [await statsBefore, await stack.commandStats()];
      const acked = Math.max(1, endSample.acked - steady!.acked);
      const per: Record<string, { calls: number; usec: number }> = {};
      for (const [name, a] of after) {
        const b = before.get(name) ?? { calls: 0, usec: 0 };
        if (a.calls - b.calls > 0 && name !== 'info') per[name] = { calls: Math.round(((a.calls - b.calls) / acked) * 100) / 100, usec: Math.round(((a.usec - b.usec) / acked) * 10) / 10 };
      }
      result.max.redisPerCommand = per;
    }
    expectedAcks += sat.accepted;
    const drainStarted = epochMs();
    const complete = await drained(stack, expectedAcks, 60_000);
    result.max.drainMs = Math.round(epochMs() - drainStarted);
    await sleep(200); // the last outcomes are flushed to the queue a few ms after the device ACKs
    result.max.leftBehind = complete ? await queueLeftovers(stack.queue) : expectedAcks - fleet.counters.applied;
    result.max.accepted = sat.accepted;
    result.max.refused = sat.refused;
    result.max.seconds = Math.round((sat.finishedAt - sat.startedAt) / 100) / 10;
    result.max.ackedPerSec = steady ? Math.round(((endSample.acked - steady.acked) * 1000) / (endSample.at - steady.at)) : 0;
    result.max.duplicatesAtDevices = fleet.counters.duplicates - base.duplicates;
    options.log(`  ${options.backend}: max ${result.max.ackedPerSec} acked/s (left behind ${result.max.leftBehind}), cores ${JSON.stringify(result.max.cpuCores)}, CPU µs/command ${JSON.stringify(result.max.cpuUsPerCommand)}`);

    if (stack.hopTiming) {
      // The latency steps split each command's time by hop: a dispatcher with hop timing on,
      // warmed up like the first one.
      await producer.close();
      await stack.restartDispatcher(true);
      producer = new LoadGenerator({ apiUrl: stack.apiUrl, phyIds });
      const rewarm = await producer.openLoop(2_000, 1);
      expectedAcks += rewarm.ids.length;
      await drained(stack, expectedAcks, 30_000);
    }

    // Latency at fixed offered rates, open loop.
    const eighty = Math.round((result.max.ackedPerSec * 0.8) / 100) * 100;
    const rates = [...new Set([...options.rates, eighty])].filter((r) => r > 0).sort((a, b) => a - b);
    for (const rate of rates) {
      if (rate > result.max.ackedPerSec * 1.5) {
        // Above capacity the backlog only grows: latency would measure the step's length, not the system.
        result.steps.push({ offeredPerSec: rate, seconds: 0, accepted: 0, refused: 0, latencyMs: percentiles([]), enqueueAnswerMs: percentiles([]), notAcked: 0, eightyPercentOfMax: false, overCapacity: true });
        options.log(`  ${options.backend}: ${rate}/s skipped: over 1.5x the measured maximum`);
        continue;
      }
      const services = { ingress: stack.ingressUrl, dispatcher: stack.apiUrl };
      // Scraping resets the event-loop delay histograms: what the step's end reads is the step's own.
      const [hopsBefore] = await Promise.all([scrape(services.dispatcher).then(hopSnapshot), scrape(services.ingress)]);
      const statsAtStart = options.backend === 'redis' ? await stack.commandStats() : undefined;
      const stepCpu = new CpuMeter(stack.pids);
      stepCpu.begin();
      const produced = await producer.openLoop(rate, options.stepSeconds);
      expectedAcks += produced.ids.length;
      // A step that cannot drain in a minute is reported with what did not finish (notAcked).
      await drained(stack, expectedAcks, 60_000);
      const cpuSeconds = stepCpu.seconds();
      const statsAtEnd = statsAtStart ? await stack.commandStats() : undefined;
      const [dispatcherText, ingressText] = await Promise.all([scrape(services.dispatcher), scrape(services.ingress)]);
      const read = await readAckLatencies(stack.queue, produced, { sample: options.sample, timeoutMs: 5_000 });
      const step: E2eStep = {
        offeredPerSec: rate, seconds: options.stepSeconds, accepted: produced.ids.length, refused: produced.refused,
        latencyMs: read.latency, enqueueAnswerMs: percentiles(produced.enqueueAnswerMs), enqueueRoundTripMs: percentiles(produced.enqueueRoundTripMs ?? []), notAcked: read.notAcked,
        eightyPercentOfMax: rate === eighty,
        cpuUsPerCommand: Object.fromEntries(Object.entries(cpuSeconds).map(([name, seconds]) => [name, Math.round((seconds * 1e6) / Math.max(1, produced.ids.length))])),
        hops: hopSplit(hopsBefore, hopSnapshot(dispatcherText)),
        ...(statsAtStart && statsAtEnd ? { redisCallsPerCommand: callsPer(statsAtStart, statsAtEnd, produced.ids.length) } : {}),
        loopDelayMs: Object.fromEntries(([['ingress', ingressText], ['dispatcher', dispatcherText]] as const).flatMap(([name, text]) => {
          const delay = loopDelay(text);
          return delay ? [[name, delay]] : [];
        })),
      };
      result.steps.push(step);
      options.log(`  ${options.backend}: ${rate}/s → p50 ${step.latencyMs.p50} p95 ${step.latencyMs.p95} p99 ${step.latencyMs.p99} ms (enqueue answer p50 ${step.enqueueAnswerMs.p50} ms, its round trip ${step.enqueueRoundTripMs?.p50} ms)${read.notAcked ? `, ${read.notAcked} not acked ${JSON.stringify(read.statuses)}` : ''}`);
      options.log(`    CPU µs/command ${JSON.stringify(step.cpuUsPerCommand)}; loop delay ms ${JSON.stringify(step.loopDelayMs)}; Redis calls/command ${JSON.stringify(step.redisCallsPerCommand)}`);
      if (step.hops && Object.keys(step.hops).length > 0) options.log(`    hops p50/mean ms: ${Object.entries(step.hops).map(([hop, h]) => `${hop} ${h.p50Ms}/${h.meanMs}`).join(', ')}`);
    }
    await producer.close();
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    options.log(`  ${options.backend}: FAILED: ${result.error}`);
  } finally {
    await stack?.close();
  }
  return result;
}
