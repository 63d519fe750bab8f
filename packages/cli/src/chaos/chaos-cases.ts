import { createRedisClient } from '@outbound/core';
import { sleep, waitUntil } from '../bench/child-processes';
import type { Backend } from '../bench/service-processes';
import type { CaseContext, ChaosCase, FaultOutcome } from './chaos-case';
import type { ChaosCounts } from './chaos-verdict';
import { CHAOS_TIMING } from './chaos-stack';

const RATE = 100;
const none = (): FaultOutcome => ({ notes: [], failures: [] });

/**
 * kill -9 of a dispatcher under load, `kills` times, 1.5 s apart, down to the last one: it
 * must take over every lease the others held. (Replacements started mid-fault would take tens
 * of seconds to come up on a busy 2-core host and make the case's duration depend on it.)
 */
export function dispatcherKill(backend: Backend): ChaosCase {
  const kills = 5;
  return {
    name: 'dispatcher-kill-5', backend, devices: 30,
    proves: `kill -9 of ${kills} of ${kills + 1} dispatchers, 1.5 s apart, under ${RATE}/s: the commands they held come back after the lease and are delivered, in order`,
    stack: { dispatchers: kills + 1, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      for (let i = 0; i < kills; i++) {
        const names = [...stack.dispatchers.keys()];
        const victim = names[Math.floor(Math.random() * names.length)]!;
        await stack.kill(victim);
        log(`kill -9 ${victim}`);
        await sleep(1_500);
      }
      return none();
    },
    afterMs: CHAOS_TIMING.leaseMs + 1_000,
  };
}

/** kill -9 of an ingress replica: its devices reconnect to another replica and their commands follow. */
export function ingressKill(backend: Backend): ChaosCase {
  return {
    name: 'ingress-kill', backend, devices: 30,
    proves: 'kill -9 of an ingress replica: its devices reconnect to the other replica and nothing in flight to them is lost or reordered',
    stack: { dispatchers: 2, ingresses: 2 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      const victim = [...stack.ingresses.keys()][0]!;
      const victimPort = stack.ingresses.get(victim)!.tcpPort;
      // Device i started on ports[i % n] (device-process.ts): these were on the victim.
      const ports = stack.ingressPorts();
      const onVictim = new Set(stack.options.phyIds.filter((_, i) => ports[i % ports.length] === victimPort));
      // Kill while commands are flowing through the victim, not before its first one.
      await waitUntil(`a command through ${victim}`, 15_000, async () => stack.readLog().some((l) => l.port === victimPort));
      await stack.kill(victim);
      const killedAt = Date.now();
      log(`kill -9 ${victim} (${onVictim.size} devices on it)`);
      const replacement = await stack.startIngress();
      log(`started ${replacement}`);
      await sleep(4_000);
      const moved = new Set(stack.readLog().filter((l) => l.at > killedAt && l.port !== victimPort && onVictim.has(l.phyId)).map((l) => l.phyId));
      const failures = moved.size === 0 ? [`no device of ${victim} received a command through another replica after the kill`] : [];
      return { notes: [`${moved.size} of the ${onVictim.size} devices of the killed replica received commands through another replica after the kill`], failures };
    },
  };
}

/**
 * SIGSTOP of dispatcher `name` for `pauseMs` the moment a 1 s store stall ends, with enqueues
 * to it waiting: the stop lands while it is taking in the replies that piled up (claims it has
 * not delivered yet, enqueues it has not answered), which it reads when it resumes, after its
 * lease is gone. (A stop at a random moment catches that only now and then.)
 */
async function stopWithCallsInFlight({ stack, driver, log }: CaseContext, name: string, pauseMs: number): Promise<void> {
  const stall = stack.stallStore(1_000);
  await sleep(100);
  driver.burst(stack.dispatchers.get(name)!.apiUrl);
  await stall;
  stack.signal(name, 'SIGSTOP');
  log(`SIGSTOP ${name} for ${pauseMs} ms, as a 1 s store stall ends with enqueues to it waiting`);
  await sleep(pauseMs);
  stack.signal(name, 'SIGCONT');
  log(`SIGCONT ${name}`);
}

/** SIGSTOP of a dispatcher past its lease, then SIGCONT: the stale holder must not write to devices. */
export function dispatcherPause(backend: Backend): ChaosCase {
  const pauseMs = CHAOS_TIMING.leaseMs + 2_000;
  return {
    name: 'dispatcher-sigstop', backend, devices: 30,
    proves: `SIGSTOP of a dispatcher for ${pauseMs / 1000} s (lease ${CHAOS_TIMING.leaseMs / 1000} s), then SIGCONT: another dispatcher takes its commands over and the resumed one writes nothing out of order`,
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault(ctx) {
      await stopWithCallsInFlight(ctx, [...ctx.stack.dispatchers.keys()][0]!, pauseMs);
      return none();
    },
    check(_ctx, counts) {
      return checkStale(counts);
    },
    afterMs: 3_000,
  };
}

const SILENT_MAX_ATTEMPTS = 2;

/** Every command of a silent device was written maxAttempts times and ended dead; every other one ended acked. */
function checkSilent({ stack, driver }: CaseContext, statuses: ReadonlyMap<string, string>): string[] {
  const silentIds = driver.records.filter((r) => r.phyId.startsWith('MUTE') && r.id).map((r) => r.id!);
  const log = stack.readLog();
  const failures: string[] = [];
  for (const id of silentIds) {
    const times = log.filter((l) => l.id === id).length;
    if (times !== SILENT_MAX_ATTEMPTS) failures.push(`silent command ${id} was written ${times} times, expected ${SILENT_MAX_ATTEMPTS}`);
    if (statuses.get(id) !== 'dead') failures.push(`silent command ${id} ended ${statuses.get(id)}, expected dead`);
  }
  const others = driver.records.filter((r) => !r.phyId.startsWith('MUTE') && r.id && statuses.get(r.id) !== 'acked');
  if (others.length) failures.push(`${others.length} command(s) of answering devices did not end acked`);
  if (silentIds.length === 0) failures.push('the silent device got no command accepted');
  return failures;
}

/** A resumed stale dispatcher shows up as an old command written after a newer one. */
function checkStale(counts: ChaosCounts): string[] {
  return counts.staleRedeliveries ? [`${counts.staleRedeliveries} stale re-deliveries (an old command written after a newer one)`] : [];
}

/** A device that takes COMMANDs and never ACKs: its commands time out, retry, and end dead; the others are unaffected. */
export function silentDevice(backend: Backend): ChaosCase {
  const maxAttempts = SILENT_MAX_ATTEMPTS;
  return {
    name: 'device-never-acks', backend, devices: 20, silentDevices: 1,
    proves: `a device that never ACKs: each of its commands is written ${maxAttempts} times (ACK timeout, retry) and ends dead; the other devices get everything, in order`,
    stack: { dispatchers: 1, ingresses: 1 },
    load: { ratePerSecond: RATE / 2, silentCommands: 3, silentAckTimeoutMs: 500, silentMaxAttempts: maxAttempts },
    async fault() {
      await sleep(5_000);
      return none();
    },
    check(ctx, _counts, statuses) {
      return checkSilent(ctx, statuses);
    },
    afterMs: 1_000,
  };
}

/** kill -9 of redis-server under load and a restart on its AOF. */
export function redisKill(): ChaosCase {
  return {
    name: 'redis-kill', backend: 'redis', devices: 30,
    proves: 'kill -9 of redis-server (AOF everysec) for 3 s, restarted on its data: every accepted command is delivered, every 5xx meanwhile is truthful',
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      await stack.killRedis();
      log('kill -9 redis-server');
      await sleep(3_000);
      await stack.restartRedis();
      log('redis-server restarted on its AOF');
      return none();
    },
    afterMs: 5_000,
  };
}

/** SIGSTOP of redis-server past the command timeout. */
export function redisPause(): ChaosCase {
  const pauseMs = 8_000;
  return {
    name: 'redis-sigstop', backend: 'redis', devices: 30,
    proves: `SIGSTOP of redis-server for ${pauseMs / 1000} s (past the 5 s command timeout): a 503 STORE_UNAVAILABLE means not stored, an OUTCOME_UNKNOWN names an id`,
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      stack.signal('redis', 'SIGSTOP');
      log(`SIGSTOP redis-server for ${pauseMs} ms`);
      const readyz = await timeReadyz(stack.apiUrl());
      await sleep(Math.max(0, pauseMs - readyz.ms));
      stack.signal('redis', 'SIGCONT');
      log('SIGCONT redis-server');
      const failures = readyz.ms > 1_000 ? [`/readyz took ${readyz.ms} ms to answer during the stall (limit 1000 ms)`] : [];
      return { notes: [`/readyz during the stall: ${readyz.status} in ${readyz.ms} ms`], failures };
    },
    afterMs: 5_000,
  };
}

async function timeReadyz(apiUrl: string): Promise<{ status: string; ms: number }> {
  await sleep(500);
  const started = Date.now();
  try {
    const response = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: String(response.status), ms: Date.now() - started };
  } catch {
    return { status: 'no answer', ms: Date.now() - started };
  }
}

/** Redis reaches maxmemory (noeviction) under batch enqueues; then the limit is lifted. */
export function redisFull(): ChaosCase {
  const fullMs = 6_000;
  return {
    name: 'redis-maxmemory', backend: 'redis', devices: 40,
    proves: 'Redis at maxmemory (noeviction) under batch enqueues: refusals are 503 with a code, no refused batch leaves commands behind, accepted commands are delivered',
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE, mode: 'batch' },
    async fault({ stack, log }) {
      const client = createRedisClient({ url: stack.redis.url });
      client.on('error', () => undefined);
      try {
        const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? 0);
        // A little headroom, so the limit is reached under the load, mid-batch.
        await client.config('SET', 'maxmemory', String(used + 256 * 1024));
        log(`maxmemory set to used_memory + 256 KB (${used + 256 * 1024} bytes) for ${fullMs} ms`);
        await sleep(fullMs);
        await client.config('SET', 'maxmemory', '0');
        log('maxmemory lifted');
      } finally {
        client.disconnect();
      }
      return none();
    },
    check(_ctx, counts) {
      const failures: string[] = [];
      const refused = Object.values(counts.fiveXx).reduce((n, v) => n + v, 0);
      if (refused === 0) failures.push('no enqueue was refused: the store never got full, the case proved nothing');
      return failures;
    },
    afterMs: 3_000,
  };
}

/** kill -9 of the PostgreSQL postmaster under load, restarted after 3 s. */
export function postgresKill(): ChaosCase {
  return {
    name: 'postgres-kill', backend: 'postgres', devices: 30,
    proves: 'kill -9 of PostgreSQL for 3 s, restarted: no dispatcher or ingress exits, the API answers 503 meanwhile and recovers by itself, nothing accepted is lost',
    stack: { dispatchers: 3, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ postgres, driver, log }) {
      if (!postgres) throw new Error('postgres-kill needs the suite\'s PostgreSQL server');
      postgres.kill();
      log('kill -9 postgres (postmaster)');
      await sleep(3_000);
      await postgres.restart();
      const back = Date.now();
      log('postgres restarted');
      // Recovery: the first enqueue sent after the restart that is accepted.
      const deadline = back + 15_000;
      let recoveredMs: number | undefined;
      while (Date.now() < deadline && recoveredMs === undefined) {
        const first = driver.records.find((r) => r.sentAt >= back && r.answer === 'accepted');
        if (first) recoveredMs = first.sentAt - back;
        else await sleep(200);
      }
      const failures = recoveredMs === undefined || recoveredMs > 5_000 ? [`the API did not accept an enqueue within 5 s of PostgreSQL's return (${recoveredMs ?? 'none in 15 s'})`] : [];
      return { notes: [`first accepted enqueue ${recoveredMs ?? '-'} ms after the restart`], failures };
    },
    afterMs: 3_000,
  };
}

/** Every case of `npm run chaos`, in run order. */
export function allCases(): ChaosCase[] {
  const out: ChaosCase[] = [];
  for (const backend of ['redis', 'postgres'] as const) {
    out.push(dispatcherKill(backend), ingressKill(backend), dispatcherPause(backend), silentDevice(backend));
  }
  out.push(redisKill(), redisPause(), redisFull(), postgresKill());
  return out;
}

/**
 * What `npm test` runs: the fast faults on one Redis stack, one after the other, so the
 * processes start once (a start is most of a short case's time): a device that never ACKs
 * throughout, a dispatcher stopped past its lease and resumed, then kill -9 of another one.
 */
export function fastCase(): ChaosCase {
  const pauseMs = CHAOS_TIMING.leaseMs + 2_000;
  return {
    name: 'fast-faults', backend: 'redis', devices: 20, silentDevices: 1,
    proves: `under load, on one stack: a device that never ACKs (its commands end dead after ${SILENT_MAX_ATTEMPTS} writes each), ` +
      `SIGSTOP of a dispatcher for ${pauseMs / 1000} s (lease ${CHAOS_TIMING.leaseMs / 1000} s) then SIGCONT, then kill -9 of the other dispatcher: nothing lost, reordered or written stale`,
    // Two dispatchers: the paused one holds half the work, and after the kill it holds all of it.
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE, silentCommands: 3, silentAckTimeoutMs: 500, silentMaxAttempts: SILENT_MAX_ATTEMPTS },
    async fault(ctx) {
      const { stack, log } = ctx;
      const [paused, killed] = [...stack.dispatchers.keys()];
      await stopWithCallsInFlight(ctx, paused!, pauseMs);
      await sleep(1_000);
      await stack.kill(killed!);
      log(`kill -9 ${killed}`);
      return none();
    },
    check(ctx, counts, statuses) {
      return [...checkSilent(ctx, statuses), ...checkStale(counts)];
    },
    afterMs: CHAOS_TIMING.leaseMs + 1_000,
  };
}
