import { OutboundError, type ErrorCode } from '@outbound/core/command';
import { AckStatus, encodeCommand, FrameType } from '@outbound/core/protocol';
import type { Logger } from '@outbound/core/service';
import { ConnState, type DeviceConnection } from './device-connection';
import type { IngressMetrics } from './metrics';

/** One delivery request as both endpoints take it (already validated). */
export interface DeliveryRequest {
  phyId: string;
  id: string;
  payload: Buffer;
  ackTimeoutMs: number;
  epoch?: number;
}

/** The answer to one delivery: the device's ACK, or why there is none. */
export type DeliveryAnswer =
  | { status: 200; outcome: 'ok' | 'rejected' | 'busy'; result: string; latencyMs: number }
  | { status: 404 | 409 | 504; error: { code: ErrorCode; message: string } };

interface Waiter {
  resolve: (answer: DeliveryAnswer) => void;
  startedAt: number;
  timer: NodeJS.Timeout;
}

/** A COMMAND written to a connection and not yet ACKed; every caller of that id waits on it. */
export interface PendingDelivery {
  id: string;
  writtenAt: number;
  waiters: Waiter[];
}

const OUTCOMES: Record<number, 'ok' | 'rejected' | 'busy'> = { [AckStatus.OK]: 'ok', [AckStatus.REJECTED]: 'rejected', [AckStatus.BUSY]: 'busy' };

function failure(code: 'DEVICE_NOT_CONNECTED' | 'STALE_EPOCH' | 'ACK_TIMEOUT', message: string): DeliveryAnswer {
  const error = new OutboundError(code, message);
  return { status: error.status as 404 | 409 | 504, error: { code, message: error.message } };
}

/**
 * Writes COMMANDs and matches ACKs to the callers waiting for them. A delivery of an id
 * already in flight on the same connection joins it (one COMMAND, every caller the same
 * answer); each caller keeps its own ACK timeout. When a connection closes, its waiters are
 * answered DEVICE_NOT_CONNECTED at once.
 */
export class DeliveryTracker {
  /** Callers waiting (joined ones counted each); the drain waits for this to reach 0. */
  waiting = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly lookup: (phyId: string) => DeviceConnection | undefined,
    private readonly metrics: IngressMetrics,
    private readonly logger: Logger,
  ) {}

  deliver(request: DeliveryRequest): Promise<DeliveryAnswer> {
    const conn = this.lookup(request.phyId);
    if (!conn || conn.state !== ConnState.READY) {
      return this.done(failure('DEVICE_NOT_CONNECTED', `device ${request.phyId} holds no connection on this ingress replica`));
    }
    if (request.epoch !== undefined && request.epoch !== conn.epoch) {
      if (request.epoch < conn.epoch) {
        return this.done(failure('STALE_EPOCH', `epoch ${request.epoch} names an older connection of ${request.phyId} (current: ${conn.epoch}); look up its route again`));
      }
      return this.done(failure('DEVICE_NOT_CONNECTED', `epoch ${request.epoch} names a newer connection of ${request.phyId} than this replica holds (${conn.epoch})`));
    }
    const pending = conn.pending?.get(request.id);
    if (pending) {
      this.metrics.deliveries.labels('joined').inc();
      return this.wait(conn, pending, request.ackTimeoutMs);
    }
    const created: PendingDelivery = { id: request.id, writtenAt: Date.now(), waiters: [] };
    (conn.pending ??= new Map()).set(request.id, created);
    const answer = this.wait(conn, created, request.ackTimeoutMs);
    // A write that trips the high-water mark destroys the socket; its close answers the waiter.
    conn.send(encodeCommand(request.id, request.payload), FrameType.COMMAND);
    return answer;
  }

  private wait(conn: DeviceConnection, pending: PendingDelivery, ackTimeoutMs: number): Promise<DeliveryAnswer> {
    this.waiting++;
    return new Promise<DeliveryAnswer>((resolve) => {
      const waiter: Waiter = {
        resolve,
        startedAt: Date.now(),
        timer: setTimeout(() => {
          const at = pending.waiters.indexOf(waiter);
          if (at >= 0) pending.waiters.splice(at, 1);
          if (pending.waiters.length === 0 && conn.pending?.get(pending.id) === pending) this.forget(conn, pending.id);
          this.logger.debug({ phyId: conn.phyId, commandId: pending.id, ackTimeoutMs }, 'ACK timeout');
          this.answer(waiter, failure('ACK_TIMEOUT', `device ${conn.phyId} did not ACK command ${pending.id} within ${ackTimeoutMs} ms`));
        }, ackTimeoutMs),
      };
      pending.waiters.push(waiter);
    });
  }

  /** An ACK arrived: answer everyone waiting for that id. A late or unknown ACK is dropped. */
  settle(conn: DeviceConnection, id: string, status: number, result: Buffer): void {
    const pending = conn.pending?.get(id);
    if (!pending) {
      this.metrics.deliveries.labels('late_ack').inc();
      this.logger.debug({ phyId: conn.phyId, commandId: id }, 'ACK for no waiting delivery (late or duplicate)');
      return;
    }
    this.forget(conn, id);
    const now = Date.now();
    this.metrics.ackLatency.observe((now - pending.writtenAt) / 1000);
    const outcome = OUTCOMES[status];
    const encoded = result.length ? result.toString('base64') : '';
    for (const waiter of pending.waiters) {
      clearTimeout(waiter.timer);
      this.answer(waiter, { status: 200, outcome, result: encoded, latencyMs: now - waiter.startedAt });
    }
  }

  /** The connection closed: its waiters learn at once instead of at their timeout. */
  connectionClosed(conn: DeviceConnection): void {
    const pending = conn.pending;
    if (!pending) return;
    conn.pending = null;
    for (const delivery of pending.values()) {
      for (const waiter of delivery.waiters) {
        clearTimeout(waiter.timer);
        this.answer(waiter, failure('DEVICE_NOT_CONNECTED', `connection of ${conn.phyId} closed (${conn.closeReason || 'closed'}) before it ACKed command ${delivery.id}`));
      }
    }
  }

  /** Resolves once no caller is waiting (the drain's "in-flight deliveries are answered"). */
  whenIdle(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private forget(conn: DeviceConnection, id: string): void {
    conn.pending?.delete(id);
    if (conn.pending?.size === 0) conn.pending = null;
  }

  private answer(waiter: Waiter, answer: DeliveryAnswer): void {
    this.waiting--;
    this.count(answer);
    waiter.resolve(answer);
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
    this.metrics.deliveries.labels(answer.status === 200 ? answer.outcome : answer.error.code.toLowerCase()).inc();
  }
}
