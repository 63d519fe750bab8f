/** The fault suite's case lists: everything `npm run chaos` runs, and the fast case `npm test` runs. */
import { sleep } from '../bench/child-processes';
import type { ChaosCase } from './chaos-case';
import { CHAOS_TIMING } from './chaos-stack';
import {
  checkSilent, checkStale, dispatcherKill, dispatcherPause, ingressKill, none, RATE, SILENT_MAX_ATTEMPTS, silentDevice, stopWithCallsInFlight,
} from './process-faults';
import { postgresKill, redisFull, redisKill, redisPause } from './store-faults';

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
    proves: `under load, on one stack: a device that never ACKs (its commands end dead after at most ${SILENT_MAX_ATTEMPTS} writes each), ` +
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
      return [...checkSilent(ctx, statuses, false), ...checkStale(counts)];
    },
    afterMs: CHAOS_TIMING.leaseMs + 1_000,
  };
}
