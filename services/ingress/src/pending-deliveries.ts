import { AckDeadlines, type Deadline } from './ack-deadlines';

/** What a COMMAND written on a connection came to, for each caller waiting on it. */
export type DeliveryOutcome =
  | { kind: 'ack'; status: number; result: Buffer; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'closed'; reason: string };

/** One caller waiting for an ACK; it is its own deadline (see AckDeadlines). */
interface Waiter extends Deadline {
  done: (outcome: DeliveryOutcome) => void;
  startedAt: number;
}

interface Pending {
  writtenAt: number;
  waiters: Waiter[];
}

const TIMEOUT: DeliveryOutcome = { kind: 'timeout' };

/** The ACK deadlines of every connection of this process, behind one timer. */
const deadlines = new AckDeadlines();

/**
 * The COMMANDs one connection has written and not yet seen ACKed, and the callers waiting for
 * each (a delivery of an id already in flight joins it: one COMMAND, every caller the same
 * answer, each with its own timeout). Nothing is allocated while nothing waits (most
 * connections, and there are tens of thousands of them), and the usual one command in flight
 * is held in a field: the map exists only while two or more wait.
 */
export class PendingDeliveries {
  private firstId: string | null = null;
  private first: Pending | null = null;
  private map: Map<string, Pending> | null = null;

  get size(): number {
    return (this.first ? 1 : 0) + (this.map?.size ?? 0);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Callers waiting for `id` (joined ones included). */
  waitersFor(id: string): number {
    return this.get(id)?.waiters.length ?? 0;
  }

  /**
   * Waits for `id`: `done` runs once, with its ACK, its timeout or the connection's close.
   * Answers `joined`: false when the caller must write the COMMAND.
   */
  wait(id: string, ackTimeoutMs: number, done: (outcome: DeliveryOutcome) => void): boolean {
    const now = Date.now();
    let pending = this.get(id);
    const joined = pending !== undefined;
    if (!pending) {
      pending = { writtenAt: now, waiters: [] };
      if (!this.first) {
        this.firstId = id;
        this.first = pending;
      } else {
        (this.map ??= new Map()).set(id, pending);
      }
    }
    const entry = pending;
    const waiter: Waiter = {
      done, startedAt: now, at: 0, ms: -1, prev: null, next: null,
      expire: () => {
        entry.waiters.splice(entry.waiters.indexOf(waiter), 1);
        if (entry.waiters.length === 0 && this.get(id) === entry) this.forget(id);
        done(TIMEOUT);
      },
    };
    entry.waiters.push(waiter);
    deadlines.add(waiter, ackTimeoutMs, now);
    return joined;
  }

  /** An ACK: answers everyone waiting for `id`; the ms since its COMMAND was written, or null when nobody waited (late or duplicate). */
  settle(id: string, status: number, result: Buffer): number | null {
    const pending = this.get(id);
    if (!pending) return null;
    this.forget(id);
    const now = Date.now();
    for (const waiter of pending.waiters) {
      deadlines.remove(waiter);
      waiter.done({ kind: 'ack', status, result, latencyMs: now - waiter.startedAt });
    }
    return now - pending.writtenAt;
  }

  /** The connection closed: every waiter learns at once instead of at its timeout. */
  closeAll(reason: string): void {
    const all = [...(this.first ? [this.first] : []), ...(this.map?.values() ?? [])];
    this.first = null;
    this.firstId = null;
    this.map = null;
    const closed: DeliveryOutcome = { kind: 'closed', reason };
    for (const pending of all) {
      for (const waiter of pending.waiters) {
        deadlines.remove(waiter);
        waiter.done(closed);
      }
    }
  }

  private get(id: string): Pending | undefined {
    if (this.firstId === id) return this.first!;
    return this.map?.get(id);
  }

  private forget(id: string): void {
    if (this.firstId === id) {
      this.firstId = null;
      this.first = null;
      return;
    }
    this.map?.delete(id);
    if (this.map?.size === 0) this.map = null;
  }
}
