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
    const span = request.traceparent ? this.spans?.start(request) : undefined;
    if (!span) return this.deliverNow(request, times);
    return this.deliverNow(request, times, span).then((answer) => this.spans!.answered(span, answer));
  }

  /** `budgetMs`: what is left of the caller's ackTimeoutMs (less the time spent waiting for a registration). */
  private deliverNow(request: DeliveryRequest, times?: DeliveryHopTimes, span?: Span, budgetMs = request.ackTimeoutMs): Promise<DeliveryAnswer> {
    const conn = this.lookup(request.phyId);
    if (conn?.state === ConnState.REGISTERING) return this.afterRegistration(conn, request, times, span, budgetMs);
    if (!conn || conn.state !== ConnState.READY) {
      return this.done(failure('DEVICE_NOT_CONNECTED', `device ${request.phyId} holds no connection on this ingress replica`));
    }
    if (request.epoch !== undefined && request.epoch !== conn.epoch) {
      if (request.epoch < conn.epoch) {
        return this.done(failure('STALE_EPOCH', `epoch ${request.epoch} names an older connection of ${request.phyId} (current: ${conn.epoch}); look up its route again`));
      }
      return this.done(failure('DEVICE_NOT_CONNECTED', `epoch ${request.epoch} names a newer connection of ${request.phyId} than this replica holds (${conn.epoch})`));
    }
    this.waiting++;
    const { joined, outcome } = conn.deliver(request.id, request.payload, budgetMs);
    if (times) times.written = hostClockMs();
    if (span) this.spans!.written(span, joined);
    if (joined) this.metrics.deliveries.labels('joined').inc();
    return outcome.then((o) => {
      if (times) times.acked = hostClockMs();
      return this.answer(this.toAnswer(conn, request, o));
    });
  }

  /**
   * The store makes a route readable the moment it writes it, and this replica learns the
   * epoch one answer later: a dispatcher that read the route may call in between. The delivery
   * waits for the registration within its ackTimeoutMs, then goes the usual way (a connection
   * that closed meanwhile is DEVICE_NOT_CONNECTED, a newer one is waited for or STALE_EPOCH),
   * rather than answering DEVICE_NOT_CONNECTED for a device that is connecting here, which
   * would park its commands although the route the dispatcher holds is right.
   */
  private async afterRegistration(
    conn: DeviceConnection, request: DeliveryRequest, times: DeliveryHopTimes | undefined, span: Span | undefined, budgetMs: number,
  ): Promise<DeliveryAnswer> {
    const started = Date.now();
    this.waiting++;
    const ready = await new Promise<boolean | null>((resolve) => {
      const timer = setTimeout(() => {
        stop();
        resolve(null);
      }, budgetMs);
      const stop = conn.onRegistered((settled) => {
        clearTimeout(timer);
        resolve(settled);
      });
    });
    const left = budgetMs - (Date.now() - started);
    const next = ready === null || left <= 0
      ? this.done(failure('DEVICE_NOT_CONNECTED', `connection of ${request.phyId} is still registering on this ingress replica after ${budgetMs} ms (ackTimeoutMs)`))
      : this.deliverNow(request, times, span, left);
    // Released after the next step counted itself in, so the drain never sees a false zero.
    this.release();
    return next;
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

  private done(answer: DeliveryAnswer): Promise<DeliveryAnswer> {
    this.count(answer);
    return Promise.resolve(answer);
  }

  private count(answer: DeliveryAnswer): void {
    this.metrics.deliveries.labels('outcome' in answer ? answer.outcome : answer.error.code.toLowerCase()).inc();
  }}
