import { OutboundError } from '@outbound/core/command';
import { hostClockMs, type DeliveryAnswer, type DeliveryHopTimes, type DeliveryItem } from '@outbound/core/delivery';
import { AckStatus } from '@outbound/core/protocol';
import type { Logger, Span } from '@outbound/core/service';
import { ConnState, type DeviceConnection } from './device-connection';
import type { IngressMetrics } from './metrics';
import type { DeliveryOutcome } from './pending-deliveries';
import type { DeviceSpans } from './tracing';

/** One delivery request as both endpoints take it (already checked): the contract's item. */
export type DeliveryRequest = DeliveryItem;

const OUTCOMES: Record<number, 'ok' | 'rejected' | 'busy'> = { [AckStatus.OK]: 'ok', [AckStatus.REJECTED]: 'rejected', [AckStatus.BUSY]: 'busy' };

function failure(code: 'DEVICE_NOT_CONNECTED' | 'STALE_EPOCH' | 'ACK_TIMEOUT', message: string): DeliveryAnswer {
  const error = new OutboundError(code, message);
  return { status: error.status, error: { code, message: error.message } };
}

/**
 * The delivery API's side of a delivery: finds the device's connection, checks the epoch,
 * hands the COMMAND to the connection (which owns what waits for ACKs), turns what it came to
 * into the API's answer, counts it, and knows how many callers wait (the drain waits for 0).
 */
export class DeliveryTracker {
  /** Callers waiting (joined ones counted each); the drain waits for this to reach 0. */
  waiting = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly lookup: (phyId: string) => DeviceConnection | undefined,
    private readonly metrics: IngressMetrics,
    private readonly logger: Logger,
    private readonly spans?: DeviceSpans,
  ) {}

  /**
   * Delivers one command; `times` (when the caller measures hops) gets the moment the COMMAND
   * was handed to the socket and the moment the ACK was read.
   */
  deliver(request: DeliveryRequest, times?: DeliveryHopTimes): Promise<DeliveryAnswer> {
    return new Promise((resolve) => this.deliverTo(request, times, resolve));
  }

  /**
   * deliver() with the answer handed to `done` (once, possibly before this returns) instead of
   * a promise: the batch endpoint's path, where a promise chain per delivery was a third of
   * the tracker's cost.
   */
  deliverTo(request: DeliveryRequest, times: DeliveryHopTimes | undefined, done: (answer: DeliveryAnswer) => void): void {
    const span = request.traceparent ? this.spans?.start(request) : undefined;
    if (!span) this.deliverNow(request, times, undefined, request.ackTimeoutMs, done);
    else this.deliverNow(request, times, span, request.ackTimeoutMs, (answer) => done(this.spans!.answered(span, answer)));
  }

  /** `budgetMs`: what is left of the caller's ackTimeoutMs (less the time spent waiting for a registration). */
  private deliverNow(
    request: DeliveryRequest, times: DeliveryHopTimes | undefined, span: Span | undefined, budgetMs: number, done: (answer: DeliveryAnswer) => void,
  ): void {
    const conn = this.lookup(request.phyId);
    if (conn?.state === ConnState.REGISTERING) {
      this.afterRegistration(conn, request, times, span, budgetMs, done);
      return;
    }
    if (!conn || conn.state !== ConnState.READY) {
      done(this.counted(failure('DEVICE_NOT_CONNECTED', `device ${request.phyId} holds no connection on this ingress replica`)));
      return;
    }
    if (request.epoch !== undefined && request.epoch !== conn.epoch) {
      if (request.epoch < conn.epoch) {
        done(this.counted(failure('STALE_EPOCH', `epoch ${request.epoch} names an older connection of ${request.phyId} (current: ${conn.epoch}); look up its route again`)));
        return;
      }
      done(this.counted(failure('DEVICE_NOT_CONNECTED', `epoch ${request.epoch} names a newer connection of ${request.phyId} than this replica holds (${conn.epoch})`)));
      return;
    }
    this.waiting++;
    const joined = conn.deliver(request.id, request.payload, budgetMs, (outcome) => {
      if (times) times.acked = hostClockMs();
      done(this.answer(this.toAnswer(conn, request, outcome)));
    });
    if (times) times.written = hostClockMs();
    if (span) this.spans!.written(span, joined);
    if (joined) this.metrics.delivered('joined');
  }

  /**
   * The store makes a route readable the moment it writes it, and this replica learns the
   * epoch one answer later: a dispatcher that read the route may call in between. The delivery
   * waits for the registration within its ackTimeoutMs, then goes the usual way (a connection
   * that closed meanwhile is DEVICE_NOT_CONNECTED, a newer one is waited for or STALE_EPOCH),
   * rather than answering DEVICE_NOT_CONNECTED for a device that is connecting here, which
   * would park its commands although the route the dispatcher holds is right.
   */
  private afterRegistration(
    conn: DeviceConnection, request: DeliveryRequest, times: DeliveryHopTimes | undefined, span: Span | undefined, budgetMs: number,
    done: (answer: DeliveryAnswer) => void,
  ): void {
    const started = Date.now();
    this.waiting++;
    const next = (ready: boolean | null): void => {
      const left = budgetMs - (Date.now() - started);
      if (ready === null || left <= 0) {
        done(this.counted(failure('DEVICE_NOT_CONNECTED', `connection of ${request.phyId} is still registering on this ingress replica after ${budgetMs} ms (ackTimeoutMs)`)));
      } else {
        this.deliverNow(request, times, span, left, done);
      }
      // Released after the next step counted itself in, so the drain never sees a false zero.
      this.release();
    };
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      stop();
      next(null);
    }, budgetMs);
    const stop = conn.onRegistered((ready) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Never inside the connection's own state change: it goes on after its waiters.
      queueMicrotask(() => next(ready));
    });
  }

  /** Resolves once no caller is waiting (the drain's "in-flight deliveries are answered"). */
  whenIdle(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private toAnswer(conn: DeviceConnection, request: DeliveryRequest, outcome: DeliveryOutcome): DeliveryAnswer {
    switch (outcome.kind) {
      case 'ack':
        return { status: 200, outcome: OUTCOMES[outcome.status]!, result: outcome.result, latencyMs: outcome.latencyMs };
      case 'timeout':
        this.logger.debug({ phyId: conn.phyId, commandId: request.id, ackTimeoutMs: request.ackTimeoutMs }, 'ACK timeout');
        return failure('ACK_TIMEOUT', `device ${conn.phyId} did not ACK command ${request.id} within ${request.ackTimeoutMs} ms`);
      default:
        return failure('DEVICE_NOT_CONNECTED', `connection of ${conn.phyId} closed (${outcome.reason}) before it ACKed command ${request.id}`);
    }
  }

  private answer(answer: DeliveryAnswer): DeliveryAnswer {
    this.count(answer);
    this.release();
    return answer;
  }

  private release(): void {
    this.waiting--;
    if (this.waiting === 0 && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** `answer`, counted. */
  private counted(answer: DeliveryAnswer): DeliveryAnswer {
    this.count(answer);
    return answer;
  }

  private count(answer: DeliveryAnswer): void {
    this.metrics.delivered('outcome' in answer ? answer.outcome : answer.error.code.toLowerCase());
  }
}
