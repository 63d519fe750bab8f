import {
  toError, TERMINAL_STATUSES,
  type AckItem, type ClaimedCommand, type CommandQueue, type FailItem, type DeviceRoute, type LocalClaim, type LocalClaimer, type Logger, type RouteRegistry, type TransitionResult,
} from '@outbound/core';
import type { CompletionWaiter } from './completion-waiter';
import { DeliveryBatchError, type DeliveryAnswer, type DeliveryClient } from './delivery-client';
import { seriesObserver } from './fast-observe';
import type { HopTimer } from './hop-timer';
import type { DeliveryOutcome, DispatcherMetrics } from './metrics';
import type { AckClaim, AckClaimer, OutcomeRecorder } from './outcome-recorder';
import type { RouteCache } from './route-cache';
import type { TransitionLog } from './transition-log';
import { contextFields, type AttemptSpans } from './tracing';

export type DispatchLoopState = 'idle' | 'running' | 'stopping' | 'stopped';

export interface DispatchLoopOptions {
  claimBatch: number;
  maxInFlight: number;
  leaseMs: number;
  /** Lease time kept back from the ACK wait, so the outcome is recorded before the lease ends. */
  leaseMarginMs: number;
  /** Longest wait for a wake-up signal before claiming anyway. */
  idleWaitMs: number;
  /**
   * While waiting for work with room, take what this process' own enqueues make ready in the
   * enqueue's store call (stores that can: Redis v2 layout), instead of claiming it after the wake-up.
   */
  claimOnEnqueue?: boolean;
  /**
   * While waiting for work or for room, claim in the outcome recorder's ack calls instead of
   * after the ack's answer. By default, when the queue has a one-step `ackAndClaim` (Redis v3;
   * the queue layers expose it only when their store has it); elsewhere an ack that claims
   * would be an ack call and then a claim call, no saving.
   */
  claimWithAcks?: boolean;
  deliveryBatchMax: number;
}

export interface DispatchLoopDeps {
  queue: CommandQueue;
  registry: RouteRegistry;
  /** Where deliveries look routes up (a RouteCache over `registry`); re-checks after a park read `registry` itself. */
  routes: Pick<RouteCache, 'lookupMany' | 'prefetch' | 'forget' | 'forgetAddress'>;
  client: DeliveryClient;
  recorder: OutcomeRecorder;
  metrics: DispatcherMetrics;
  waiter: CompletionWaiter;
  logger: Logger;
  /** Where each recorded outcome is logged with the command id (none: only refused outcomes, at debug). */
  transitions?: TransitionLog;
  /** Per-hop timing (DISPATCHER_HOP_TIMING); none: not measured. */
  hops?: HopTimer;
  /** Spans of traced commands' attempts (tracing on). */
  spans?: AttemptSpans;
}

/** The reason the loop's wake-up signal aborts with (nothing reads it: the wait just ends). */
const WOKEN = 'woken';

/** The shortest ACK wait worth a delivery: with less lease left, the command goes back unsent. */
const MIN_ACK_WAIT_MS = 100;

/** What to do with a command after an ingress answer. */
type Verdict =
  | { kind: 'ack'; outcome: 'ok' | 'rejected'; result?: Buffer; metric: DeliveryOutcome }
  | { kind: 'fail'; retryable: boolean; error: string; metric: DeliveryOutcome }
  | { kind: 'release'; park: boolean; reason: string; metric: DeliveryOutcome };

/** The verdicts of an ACK with an empty result, shared (never changed). */
const EMPTY_RESULT = Buffer.alloc(0);
const ACK_OK: Verdict = { kind: 'ack', outcome: 'ok', result: EMPTY_RESULT, metric: 'ok' };
const ACK_REJECTED: Verdict = { kind: 'ack', outcome: 'rejected', result: EMPTY_RESULT, metric: 'rejected' };

/** Maps one NDJSON line of the ingress to the queue transition (docs/architecture.md, "Outcomes"). */
export function verdictFor(answer: DeliveryAnswer): Verdict {
  if ('outcome' in answer) {
    // An ACK without a result (nearly every one) shares one verdict: nothing in it is per command.
    if (answer.outcome === 'ok') return answer.result.length === 0 ? ACK_OK : { kind: 'ack', outcome: 'ok', result: answer.result, metric: 'ok' };
    if (answer.outcome === 'rejected') return answer.result.length === 0 ? ACK_REJECTED : { kind: 'ack', outcome: 'rejected', result: answer.result, metric: 'rejected' };
    return { kind: 'fail', retryable: true, error: 'BUSY: the device asked to retry later', metric: 'busy' };
  }
  const why = `${answer.error.code}: ${answer.error.message}`;
  switch (answer.status) {
    case 404: return { kind: 'release', park: true, reason: why, metric: 'device_offline' };
    // The device reconnected (possibly elsewhere) since the route was read: retry at once with the new route, no attempt spent.
    case 409: return { kind: 'release', park: false, reason: why, metric: 'stale_route' };
    case 504: return { kind: 'fail', retryable: true, error: why, metric: 'ack_timeout' };
    case 400: return { kind: 'fail', retryable: false, error: why, metric: 'error' };
    default: return { kind: 'fail', retryable: true, error: why, metric: 'error' };
  }
}

/**
 * The delivery worker: claim a batch from every shard (one claim call), look the devices up in
 * the route registry, deliver per replica in batches, record outcomes. It waits on
 * `queue.waitForWork` only when a claim came back with less than it asked for (nothing more
 * is ready), so ready work never waits for a tick, and it never waits to fill a batch. At most `maxInFlight` commands are held at once.
 *
 * States: idle → running → stopping → stopped. stop() stops claiming, lets deliveries in
 * flight finish within the grace period, then gives back what is left without spending an attempt.
 */
export class DispatchLoop implements LocalClaimer, AckClaimer {
  private stateValue: DispatchLoopState = 'idle';
  private readonly held = new Map<string, ClaimedCommand>();
  /** Room promised to enqueue calls in flight that may claim for this loop (offer). */
  private reserved = 0;
  /** The loop waits for work (queue.waitForWork): nothing ready was left when it last claimed. */
  private waiting = false;
  private readonly deliveries = new Set<Promise<void>>();
  /** Give-backs of commands claimed (by an enqueue or an ack) after stop() began; stop() waits for them. */
  private readonly givingBack = new Set<Promise<void>>();
  /**
   * The wait in progress (for work, or an error pause) that notify() cuts short; null while the
   * loop claims or delivers. Made only for a wait: at saturation most claims are followed by a
   * notify before any wait, and a controller made and aborted per claim cost 6-12 µs each.
   */
  private wakeUp: AbortController | null = null;
  /** notify() was called since the current claim began: the loop claims again instead of waiting. */
  private woken = false;
  private capacityWaiter: (() => void) | null = null;
  private runPromise: Promise<void> | null = null;
  private errorDelayMs = 0;
  /** The delivery-call histogram's `item` series and the enqueue → ACK histogram, observed per command (seriesObserver). */
  private itemCall: ((seconds: number) => void) | null = null;
  private enqueueToAck: ((seconds: number) => void) | null = null;
  /**
   * Recorded outcomes not yet added to the delivered counter, by outcome, and whether the
   * in-flight gauge is behind: both are brought up to date once per event-loop turn
   * (flushMetrics), not per command (prom-client hashes and checks the labels on every call).
   */
  private readonly uncounted = new Map<string, number>();
  private metricsDue = false;

  /** Whether this loop's claims ride on the outcome recorder's ack calls (DispatchLoopOptions.claimWithAcks). */
  readonly claimsWithAcks: boolean;

  constructor(private readonly deps: DispatchLoopDeps, private readonly options: DispatchLoopOptions) {
    this.claimsWithAcks = options.claimWithAcks ?? typeof deps.queue.ackAndClaim === 'function';
  }

  get state(): DispatchLoopState {
    return this.stateValue;
  }

  /** Commands claimed by this loop whose outcome is not yet recorded. */
  get inFlight(): number {
    return this.held.size;
  }

  /**
   * The most commands held for any one device (0 when none). Read at scrape time for the
   * per-device alert; the count is per process, so the alert takes the max across dispatchers.
   */
  maxInFlightForOneDevice(): number {
    const perDevice = new Map<string, number>();
    let max = 0;
    for (const { phyId } of this.held.values()) {
      const count = (perDevice.get(phyId) ?? 0) + 1;
      perDevice.set(phyId, count);
      if (count > max) max = count;
    }
    return max;
  }

  start(): void {
    if (this.stateValue !== 'idle') return;
    this.stateValue = 'running';
    if (this.options.claimOnEnqueue) this.deps.queue.setLocalClaimer?.(this);
    if (this.claimsWithAcks) this.deps.recorder.setClaimer(this);
    this.runPromise = this.run();
  }

  /**
   * An enqueue of this process for `phyIds` is about to go out: while this loop waits for work,
   * it takes up to one command per device of what that call makes ready, claimed in the same
   * store call, and delivers them at once as one batch; that saves the wake-up and the claim
   * round trip, and the devices' routes are looked up meanwhile. While the loop is claiming
   * (ready work was left at its last claim) enqueues only enqueue, and claims stay batched.
   */
  offer(phyIds: readonly string[]): LocalClaim | null {
    // Whenever the loop waits for work: nothing ready was left at its last claim. Commands in
    // flight and other such claims on their way do not matter (room is counted with them);
    // waiting for them to end cost a command enqueued next to others in flight the wake-up and
    // a claim round trip, 1-3 ms at 1,000/s.
    if (this.stateValue !== 'running' || !this.waiting || this.errorDelayMs > 0) return null;
    const max = Math.min(phyIds.length, this.options.claimBatch, this.options.maxInFlight - this.held.size - this.reserved);
    if (max <= 0) return null;
    this.reserved += max;
    this.deps.routes.prefetch([...new Set(phyIds)]);
    const claimedAt = Date.now();
    const hops = this.deps.hops;
    return {
      max,
      leaseMs: this.options.leaseMs,
      settle: (claimed) => {
        this.reserved -= max;
        if (claimed.length === 0) {
          this.capacityWaiter?.();
          return;
        }
        if (hops) {
          // Claimed by the call that enqueued it: no wake-up, and the claim ends when its answer is read.
          const readAt = hops.now();
          for (const command of claimed) {
            hops.observe('wake', 0);
            hops.observe('claim', readAt - (command.createdAt + 0.5));
          }
        }
        this.take(claimed, claimedAt);
      },
    };
  }

  /**
   * An ack call for `items` (commands this loop holds) is about to go out: while the loop waits
   * for work or for room, that call claims the next commands in the same store step and they
   * are delivered when its answer is read, before the loop hears of the freed room. The share
   * is the room the acks free plus what is free now (at most one claim batch beyond the acks),
   * held until `settle`: the loop's own claims count it as taken, so maxInFlight holds.
   *
   * The loop's own claim still follows (the acks wake it, as always): the store may answer
   * fewer than asked while work is ready elsewhere (it never passes over better work on another
   * shard), so only a claim tells. On Redis v3 that claim costs no store call when the ack's
   * answer showed nothing more ready: the claim plan is made from the scores it answered.
   */
  offerWithAck(items: readonly AckItem[]): AckClaim | null {
    if (this.stateValue !== 'running' || this.errorDelayMs > 0 || !(this.waiting || this.capacityWaiter)) return null;
    let freed = 0;
    for (const item of items) if (this.held.has(item.id)) freed += 1;
    const room = this.options.maxInFlight - this.held.size - this.reserved;
    const max = Math.min(room + freed, freed + this.options.claimBatch);
    if (max <= 0) return null;
    // The acked commands leave `held` when the answer is read: only the rest is reserved now.
    const reserve = Math.max(0, max - freed);
    this.reserved += reserve;
    const claimedAt = Date.now();
    const sentAt = this.deps.hops?.now() ?? 0;
    return {
      max,
      leaseMs: this.options.leaseMs,
      settle: (claimed, answered) => {
        this.reserved -= reserve;
        if (answered) {
          // Recorded (or refused) in the store: record() drops them too, after this; dropping
          // them first keeps held + claimed within maxInFlight.
          for (const item of items) this.held.delete(item.id);
          this.metricsChanged();
        }
        if (claimed.length === 0) {
          this.capacityWaiter?.();
          return;
        }
        if (this.deps.hops) this.timeClaim(claimed, sentAt);
        this.take(claimed, claimedAt);
      },
    };
  }

  /** Cuts the current wait short (something may be ready). */
  notify(): void {
    // Runs once per recorded outcome: only the first call aborts a wait, and with a reason of
    // its own (without one, abort() builds a DOMException with a stack trace as the reason).
    this.woken = true;
    const wait = this.wakeUp;
    if (wait) {
      this.wakeUp = null;
      wait.abort(WOKEN);
    }
  }

  /** Stops claiming, waits up to `graceMs` for deliveries in flight, releases the rest. */
  async stop(graceMs: number): Promise<void> {
    if (this.stateValue === 'idle') this.stateValue = 'stopped';
    if (this.stateValue !== 'running') return;
    this.stateValue = 'stopping';
    if (this.options.claimOnEnqueue) this.deps.queue.setLocalClaimer?.(null);
    if (this.claimsWithAcks) this.deps.recorder.setClaimer(null);
    this.notify();
    this.capacityWaiter?.();
    await this.runPromise;
    const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    while (this.deliveries.size > 0) {
      if ((await Promise.race([Promise.all([...this.deliveries]).then(() => 'done' as const), deadline])) === 'timeout') break;
    }
    if (this.held.size > 0) {
      this.deps.logger.warn({ count: this.held.size }, 'grace period over: giving unfinished commands back to the queue');
      await Promise.all([...this.held.values()].map((c) => this.record(c, { kind: 'release', park: false, reason: 'dispatcher shutting down', metric: 'error' })));
    }
    await this.deps.recorder.drain();
    // An ack call in flight at the drain may have claimed: what it took is given back now.
    while (this.givingBack.size > 0) await Promise.all([...this.givingBack]);
    this.stateValue = 'stopped';
  }

  private async run(): Promise<void> {
    const { queue, logger } = this.deps;
    while (this.stateValue === 'running') {
      if (this.errorDelayMs > 0) await this.pause(this.errorDelayMs);
      const room = this.options.maxInFlight - this.held.size - this.reserved;
      if (room <= 0) {
        await new Promise<void>((resolve) => { this.capacityWaiter = resolve; });
        this.capacityWaiter = null;
        continue;
      }
      // A notify from here on means something may be ready that this claim does not see.
      this.woken = false;
      const claimedAt = Date.now();
      const claimSentAt = this.deps.hops?.now() ?? 0;
      const asked = Math.min(room, this.options.claimBatch);
      let claimed: ClaimedCommand[];
      try {
        claimed = await queue.claim({ max: asked, leaseMs: this.options.leaseMs });
        this.errorDelayMs = 0;
      } catch (error) {
        this.backOff(error, 'claim failed');
        continue;
      }
      if (this.deps.hops && claimed.length > 0) this.timeClaim(claimed, claimSentAt);
      if (claimed.length > 0) this.take(claimed, claimedAt);
      if (claimed.length < asked && this.stateValue === 'running' && !this.woken) {
        // Less than asked: nothing more is ready now, so wait for a signal instead of asking
        // again (an empty claim costs the store as much as a full one). The queue remembers
        // a signal that came while we claimed, and this loop's own (notify) aborts the wait;
        // one that came during the claim (an outcome recorded) means claim again at once.
        this.waiting = true;
        const wake = new AbortController();
        this.wakeUp = wake;
        try {
          await queue.waitForWork(this.options.idleWaitMs, wake.signal);
        } catch (error) {
          this.backOff(error, 'waiting for work failed');
        } finally {
          this.waiting = false;
          if (this.wakeUp === wake) this.wakeUp = null;
        }
      }
    }
    logger.debug('dispatch loop left its claim loop');
  }

  private timeClaim(claimed: ClaimedCommand[], claimSentAt: number): void {
    const hops = this.deps.hops!;
    const claimMs = hops.now() - claimSentAt;
    for (const command of claimed) {
      // createdAt is the store's whole millisecond: its middle is within ±0.5 ms of the truth.
      hops.observe('wake', claimSentAt - (command.createdAt + 0.5));
      hops.observe('claim', claimMs);
    }
  }

  /** Holds a claimed batch and starts its delivery (or gives it back when stopping). */
  private take(claimed: ClaimedCommand[], claimedAt: number): void {
    for (const command of claimed) this.held.set(command.id, command);
    this.metricsChanged();
    this.deps.spans?.claimed(claimed, claimedAt);
    if (this.stateValue !== 'running') {
      const release = { kind: 'release', park: false, reason: 'dispatcher shutting down', metric: 'error' } as const;
      const givenBack = Promise.all(claimed.map((c) => this.record(c, release))).then(() => undefined);
      this.track(givenBack);
      const done = givenBack.catch(() => undefined);
      this.givingBack.add(done);
      void done.finally(() => this.givingBack.delete(done));
      return;
    }
    // The lease is judged by this process' clock from before the claim was sent: the store
    // started the lease later than that, so this end is never after the store's, whatever the
    // two clocks say (the store's leaseExpiresAt is on the store's clock).
    this.track(this.dispatch(claimed, claimedAt + this.options.leaseMs - this.options.leaseMarginMs));
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.deps.logger.error({ err: toError(error) }, 'dispatch failed'));
    this.deliveries.add(tracked);
    void tracked.finally(() => this.deliveries.delete(tracked));
  }

  /** Routes a claimed batch and delivers it, one batch call per replica. */
  private async dispatch(claimed: ClaimedCommand[], answerBy: number): Promise<void> {
    let routes: Map<string, DeviceRoute>;
    const lookupAt = this.deps.hops?.now() ?? 0;
    try {
      const devices = new Set<string>();
      for (const command of claimed) devices.add(command.phyId);
      routes = await this.deps.routes.lookupMany([...devices]);
      if (this.deps.hops) {
        const ms = this.deps.hops.now() - lookupAt;
        for (let i = 0; i < claimed.length; i++) this.deps.hops.observe('route', ms);
      }
    } catch (error) {
      this.backOff(error, 'route lookup failed');
      await Promise.all(claimed.map((c) => this.record(c, { kind: 'release', park: false, reason: 'route lookup failed', metric: 'error' })));
      return;
    }
    // The commands by replica; each one's route stays in `routes` (no object per command to pair them).
    const byReplica = new Map<string, ClaimedCommand[]>();
    const offline: ClaimedCommand[] = [];
    for (const command of claimed) {
      const route = routes.get(command.phyId);
      if (!route) offline.push(command);
      else {
        // Pushed, not copied: a spread per command made a batch for one replica quadratic.
        const list = byReplica.get(route.address);
        if (list) list.push(command);
        else byReplica.set(route.address, [command]);
      }
    }
    const work: Promise<unknown>[] = [];
    if (offline.length > 0) work.push(this.park(offline.map((command) => ({ command, route: null })), 'device has no route (offline)'));
    for (const [address, commands] of byReplica) {
      const max = this.options.deliveryBatchMax;
      for (let i = 0; i < commands.length; i += max) {
        work.push(this.deliverToReplica(address, commands.length <= max ? commands : commands.slice(i, i + max), routes, answerBy));
      }
    }
    await Promise.all(work);
  }

  /** Delivers `commands` (each device's route in `routes`, all on `address`) in one batch call. */
  private async deliverToReplica(address: string, commands: ClaimedCommand[], routes: ReadonlyMap<string, DeviceRoute>, answerBy: number): Promise<void> {
    const { client, metrics } = this.deps;
    // Checked right before the write: this process may have been paused (SIGSTOP, a long GC, a
    // frozen VM) since the claim, and another dispatcher may have reclaimed and delivered these
    // commands meanwhile. A lease that ends (less the margin for recording) before a device could
    // answer gives the commands back unsent: writing them could reach the device out of order.
    const ackWait = answerBy - Date.now();
    if (ackWait < MIN_ACK_WAIT_MS) {
      this.deps.logger.warn({ address, count: commands.length, leaseLeftMs: ackWait }, 'lease too close to its end to deliver: giving the commands back unsent');
      const release = { kind: 'release', park: false, reason: 'lease ended before delivery', metric: 'lease_expired' } as const;
      await Promise.all(commands.map((command) => this.record(command, release)));
      return;
    }
    // Filled in a loop: a [key, value] array per command only to build the Map was garbage at once.
    const byId = new Map<string, ClaimedCommand>();
    for (const command of commands) byId.set(command.id, command);
    const itemCall = this.itemCall ??= seriesObserver(metrics.deliveryCall, { kind: 'item' });
    const recorded: Promise<unknown>[] = [];
    // The answered commands' outcomes are counted down, not gathered as a promise each.
    let recording = 0;
    let allRecorded: (() => void) | null = null;
    const recordedOne = (): void => {
      if (--recording === 0) allRecorded?.();
    };
    const parked: Array<{ command: ClaimedCommand; route: DeviceRoute | null }> = [];
    const started = process.hrtime.bigint();
    const hops = this.deps.hops;
    const sentAt = hops?.now() ?? 0;
    const onAnswer = (answer: DeliveryAnswer) => {
      const command = answer.id === null ? undefined : byId.get(answer.id);
      if (!command) return;
      byId.delete(command.id);
      const route = routes.get(command.phyId)!;
      const readAt = hops?.now() ?? 0;
      if (hops && answer.t) hops.observeIngress(sentAt, readAt, answer.t);
      if ('latencyMs' in answer) itemCall(answer.latencyMs / 1000);
      const verdict = verdictFor(answer);
      // The device left or reconnected since its route was read: never use that route again.
      if (answer.status === 404 || answer.status === 409) this.deps.routes.forget(command.phyId);
      // The command reached the device when the device answered it, or the ingress wrote it and the answer timed out:
      // the store logs command.delivered with the replica that wrote it.
      const replica = 'outcome' in answer || answer.status === 504 ? route.replicaId : undefined;
      if (verdict.kind === 'release' && verdict.park) {
        parked.push({ command, route });
        return;
      }
      recording += 1;
      this.recordThen(command, verdict, replica, hops ? () => { hops.observe('record', hops.now() - readAt); recordedOne(); } : recordedOne);
    };
    try {
      await client.deliverBatch(
        address,
        commands.map((command) => {
          const route = routes.get(command.phyId)!;
          return { phyId: command.phyId, id: command.id, payload: command.payload, ackTimeoutMs: Math.min(command.ackTimeoutMs, ackWait), epoch: route.epoch, traceparent: this.deps.spans?.delivering(command, route) };
        }),
        onAnswer,
      );
    } catch (error) {
      const batchError = error instanceof DeliveryBatchError ? error : null;
      this.deps.logger.warn({ err: toError(error), address, count: byId.size }, 'delivery batch failed');
      // Refused connections mean the replica is gone: its devices wait for a new route without spending an attempt.
      if (batchError?.notSent) {
        this.deps.routes.forgetAddress(address);
        for (const command of byId.values()) parked.push({ command, route: routes.get(command.phyId)! });
      }
      else for (const command of byId.values()) recorded.push(this.record(command, { kind: 'fail', retryable: true, error: `transport: ${toError(error).message}`, metric: 'transport_error' }));
      byId.clear();
    } finally {
      metrics.deliveryCall.observe({ kind: 'batch' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    for (const command of byId.values()) {
      recorded.push(this.record(command, { kind: 'fail', retryable: true, error: 'the ingress answered no outcome for this command', metric: 'transport_error' }));
    }
    if (parked.length > 0) recorded.push(this.park(parked, 'device not connected on its replica'));
    if (recording > 0) recorded.push(new Promise<void>((resolve) => { allRecorded = resolve; }));
    await Promise.all(recorded);
  }

  /**
   * Parks devices, then looks them up once more: a device that connected somewhere new while
   * we were delivering has already sent its online signal, which the park would otherwise undo.
   */
  private async park(items: Array<{ command: ClaimedCommand; route: DeviceRoute | null }>, reason: string): Promise<void> {
    await Promise.all(items.map(({ command }) => this.record(command, { kind: 'release', park: true, reason, metric: 'device_offline' })));
    try {
      const now = await this.deps.registry.lookupMany([...new Set(items.map((i) => i.command.phyId))]);
      const used = new Map(items.map((i) => [i.command.phyId, i.route]));
      for (const [phyId, route] of now) {
        const before = used.get(phyId);
        if (!before || before.replicaId !== route.replicaId || before.epoch !== route.epoch) await this.deps.queue.markDeviceOnline(phyId);
      }
    } catch (error) {
      // The periodic parked-device check covers this.
      this.deps.logger.warn({ err: toError(error) }, 'route re-check after parking failed');
    }
  }

  private record(command: ClaimedCommand, verdict: Verdict, replica?: string): Promise<void> {
    return new Promise((resolve) => this.recordThen(command, verdict, replica, resolve));
  }

  /**
   * Hands one outcome to the recorder; `done` runs once the store answered it and this loop
   * has done its bookkeeping (also when that bookkeeping threw: logged, as a failed dispatch).
   */
  private recordThen(command: ClaimedCommand, verdict: Verdict, replica: string | undefined, done: () => void): void {
    const { recorder } = this.deps;
    const recording = this.deps.spans?.recording(command);
    const finish = (result: TransitionResult): void => {
      try {
        this.recorded(command, verdict, result, recording);
      } catch (error) {
        this.deps.logger.error({ err: toError(error) }, 'dispatch failed');
      }
      done();
    };
    if (verdict.kind === 'ack') {
      // Items built field by field: conditional spreads take V8's generic object-clone path.
      const item: AckItem = { id: command.id, leaseToken: command.leaseToken, outcome: verdict.outcome };
      if (verdict.result) item.result = verdict.result;
      if (replica) item.replica = replica;
      recorder.recordThen('ack', item, finish);
    } else if (verdict.kind === 'fail') {
      const item: FailItem = { id: command.id, leaseToken: command.leaseToken, error: verdict.error, retryable: verdict.retryable };
      if (replica) item.replica = replica;
      recorder.recordThen('fail', item, finish);
    } else {
      recorder.recordThen('release', { id: command.id, leaseToken: command.leaseToken, deviceOffline: verdict.park, reason: verdict.reason }, finish);
    }
  }

  /** What follows a recorded (or refused) outcome: metrics, waiters, the freed room. */
  private recorded(command: ClaimedCommand, verdict: Verdict, result: TransitionResult, recording: ReturnType<AttemptSpans['recording']>): void {
    const { metrics, waiter, logger } = this.deps;
    if (verdict.kind === 'ack') {
      if (result.ok && verdict.outcome === 'ok') (this.enqueueToAck ??= seriesObserver(metrics.enqueueToAck))(Math.max(0, Date.now() - command.createdAt) / 1000);
    } else if (verdict.kind === 'fail') {
      if (result.ok && result.status === 'dead') metrics.deadLettered.inc();
      else if (result.ok && result.status === 'queued') metrics.retries.inc();
    }
    // Only outcomes the store took count: one refused for a lost lease belongs to whichever
    // dispatcher holds the command now.
    if (result.ok) this.countDelivered(verdict.metric);
    else if (result.error.code === 'LEASE_LOST') this.countDelivered('lease_lost');
    this.deps.spans?.recorded(command, recording, verdict.metric, result);
    this.logTransition(command, verdict, result);
    if (!result.ok) logger.debug({ commandId: command.id, phyId: command.phyId, code: result.error.code }, 'outcome not recorded');
    else if (TERMINAL_STATUSES.has(result.status)) waiter.notify(command.id);
    // A recorded outcome frees the device's slot, so its next command may be ready now. The queue
    // publishes wake-ups for enqueues, not for acks: without this the loop would sleep until the
    // next enqueue or idleWaitMs, and a device's second command would wait up to a second.
    if (result.ok) this.notify();
    this.held.delete(command.id);
    this.metricsChanged();
    this.capacityWaiter?.();
  }

  private countDelivered(outcome: string): void {
    this.uncounted.set(outcome, (this.uncounted.get(outcome) ?? 0) + 1);
    this.metricsChanged();
  }

  /** The delivered counter or the in-flight gauge is behind: brought up to date at the end of this turn. */
  private metricsChanged(): void {
    if (this.metricsDue) return;
    this.metricsDue = true;
    queueMicrotask(() => this.flushMetrics());
  }

  private flushMetrics(): void {
    this.metricsDue = false;
    const { delivered, inFlight } = this.deps.metrics;
    for (const [outcome, count] of this.uncounted) delivered.inc({ outcome }, count);
    this.uncounted.clear();
    inFlight.set(this.held.size);
  }

  /** One line per recorded outcome: delivered and plain give-backs sampled, failed attempts and refusals always. */
  private logTransition(command: ClaimedCommand, verdict: Verdict, result: TransitionResult): void {
    const { transitions, logger } = this.deps;
    if (!transitions) return;
    // Success lines are info: with info off, building them (two object spreads per command) is wasted.
    if (result.ok && verdict.kind !== 'fail' && !logger.isLevelEnabled('info')) return;
    const fields = { commandId: command.id, phyId: command.phyId, attempt: command.attempts, outcome: verdict.metric, ...contextFields(command.traceContext) };
    if (!result.ok) {
      transitions.failure(logger, { ...fields, code: result.error.code }, 'outcome not recorded');
    } else if (verdict.kind === 'fail') {
      const dead = result.status === 'dead';
      transitions.failure(logger, { ...fields, status: result.status, error: verdict.error }, dead ? 'attempt failed: dead-lettered' : 'attempt failed', dead ? 'warn' : 'info');
    } else if (verdict.kind === 'ack') {
      transitions.success(logger, { ...fields, status: result.status }, verdict.outcome === 'ok' ? 'command delivered' : 'command rejected by the device');
    } else {
      transitions.success(logger, { ...fields, status: result.status, reason: verdict.reason }, verdict.park ? 'device offline: command parked' : 'command given back');
    }
  }

  private backOff(error: unknown, what: string): void {
    this.errorDelayMs = Math.min(5_000, Math.max(100, this.errorDelayMs * 2));
    this.deps.logger.warn({ err: toError(error), retryInMs: this.errorDelayMs }, what);
  }

  /** Waits `ms`, or until notify() (stop() calls it). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stateValue !== 'running') {
        resolve();
        return;
      }
      const wake = new AbortController();
      this.wakeUp = wake;
      const timer = setTimeout(() => {
        if (this.wakeUp === wake) this.wakeUp = null;
        resolve();
      }, ms);
      wake.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}
