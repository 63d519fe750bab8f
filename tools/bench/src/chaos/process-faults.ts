/** Fault-suite cases that kill or stop Outbound's own processes, or a device; each runs on both backends. */
import { sleep, waitUntil } from '../bench/child-processes';
import type { Backend } from '../bench/service-processes';
import type { CaseContext, ChaosCase, FaultOutcome } from './chaos-case';
import type { ChaosCounts } from './chaos-verdict';
import { CHAOS_TIMING } from './chaos-stack';

/** Enqueues per second every case offers. */
export const RATE = 100;
/** A fault step with nothing to add. */
export const none = (): FaultOutcome => ({ notes: [], failures: [] });

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
export async function stopWithCallsInFlight({ stack, driver, log }: CaseContext, name: string, pauseMs: number): Promise<void> {
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

export const SILENT_MAX_ATTEMPTS = 2;

/**
 * Every command of a silent device ended dead after maxAttempts writes (`exact`), or after 1 to
 * maxAttempts when other faults run alongside (an attempt claimed by a dispatcher that is then
 * stopped or killed may end unsent); every other command ended acked.
 */
export function checkSilent({ stack, driver }: CaseContext, statuses: ReadonlyMap<string, string>, exact = true): string[] {
  const silentIds = driver.records.filter((r) => r.phyId.startsWith('MUTE') && r.id).map((r) => r.id!);
  const log = stack.readLog();
  const failures: string[] = [];
  for (const id of silentIds) {
    const times = log.filter((l) => l.id === id).length;
    const expected = exact ? times === SILENT_MAX_ATTEMPTS : times >= 1 && times <= SILENT_MAX_ATTEMPTS;
    if (!expected) failures.push(`silent command ${id} was written ${times} times, expected ${exact ? '' : '1 to '}${SILENT_MAX_ATTEMPTS}`);
    if (statuses.get(id) !== 'dead') failures.push(`silent command ${id} ended ${statuses.get(id)}, expected dead`);
  }
  const others = driver.records.filter((r) => !r.phyId.startsWith('MUTE') && r.id && statuses.get(r.id) !== 'acked');
  if (others.length) failures.push(`${others.length} command(s) of answering devices did not end acked`);
  if (silentIds.length === 0) failures.push('the silent device got no command accepted');
  return failures;
}

/** A resumed stale dispatcher shows up as an old command written after a newer one. */
export function checkStale(counts: ChaosCounts): string[] {
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
