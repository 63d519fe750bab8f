import { AckDeadlines, type Deadline } from './ack-deadlines';

/** What a COMMAND written on a connection came to, for each caller waiting on it. */
export type DeliveryOutcome =
  | { kind: 'ack'; status: number; result: Buffer; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'closed'; reason: string };

type Done = (outcome: DeliveryOutcome) => void;

const TIMEOUT: DeliveryOutcome = { kind: 'timeout' };

/** The ACK deadlines of every connection of this process, behind one timer. */
const deadlines = new AckDeadlines();

/**
 * One COMMAND written and not yet ACKed. It is also its first caller's deadline (see
 * AckDeadlines), so the usual delivery (one caller, nobody joining) is one object: no waiter
 * list, no closure per deadline. Callers that join the same id get a Joined each.
 */
class InFlight implements Deadline {
  at = 0;
  ms = -1;
  prev: Deadline | null = null;
  next: Deadline | null = null;
  /** The first caller, until it is answered (null after its timeout while joined callers still wait). */
  done: Done | null;
  /** Callers that joined this COMMAND, in the order they came (made only when one joins). */
  joined: Joined[] | null = null;

  constructor(
    readonly owner: PendingDeliveries,
    readonly id: string,
    done: Done,
    /** Date.now() when the COMMAND was written (the first caller's start). */
    readonly writtenAt: number,
  ) {
    this.done = done;
  }

  get waiters(): number {
    return (this.done ? 1 : 0) + (this.joined?.length ?? 0);
  }

  /** The first caller's deadline passed. */
  expire(): void {
    const done = this.done!;
    this.done = null;
    this.owner.dropIfUnwaited(this);
    done(TIMEOUT);
  }
}

/** A caller that joined a COMMAND already in flight: its own deadline. */
class Joined implements Deadline {
  at = 0;
  ms = -1;
  prev: Deadline | null = null;
  next: Deadline | null = null;

  constructor(
    readonly entry: InFlight,
    readonly done: Done,
    readonly startedAt: number,
  ) {}

  expire(): void {
    const joined = this.entry.joined!;
    joined.splice(joined.indexOf(this), 1);
    this.entry.owner.dropIfUnwaited(this.entry);
    this.done(TIMEOUT);
  }
}

/**
 * The COMMANDs one connection has written and not yet seen ACKed, and the callers waiting for
 * each (a delivery of an id already in flight joins it: one COMMAND, every caller the same
 * answer, each with its own timeout). Nothing is allocated while nothing waits (most
 * connections, and there are tens of thousands of them), and the usual one command in flight
 * is held in a field: the map exists only while two or more wait.
 */
export class PendingDeliveries {
  private first: InFlight | null = null;
  private map: Map<string, InFlight> | null = null;

  get size(): number {
    return (this.first ? 1 : 0) + (this.map?.size ?? 0);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Callers waiting for `id` (joined ones included). */
  waitersFor(id: string): number {
    return this.get(id)?.waiters ?? 0;
  }

  /**
   * Waits for `id`: `done` runs once, with its ACK, its timeout or the connection's close.
   * Answers `joined`: false when the caller must write the COMMAND.
   */
  wait(id: string, ackTimeoutMs: number, done: Done): boolean {
    const now = Date.now();
    const entry = this.get(id);
    if (entry === undefined) {
      const fresh = new InFlight(this, id, done, now);
      if (!this.first) this.first = fresh;
      else (this.map ??= new Map()).set(id, fresh);
      deadlines.add(fresh, ackTimeoutMs, now);
      return false;
    }
    const joined = new Joined(entry, done, now);
    (entry.joined ??= []).push(joined);
    deadlines.add(joined, ackTimeoutMs, now);
    return true;
  }

  /** An ACK: answers everyone waiting for `id`; the ms since its COMMAND was written, or null when nobody waited (late or duplicate). */
  settle(id: string, status: number, result: Buffer): number | null {
    const entry = this.get(id);
    if (!entry) return null;
    this.forget(entry);
    const now = Date.now();
    const done = entry.done;
    if (done) {
      entry.done = null;
      deadlines.remove(entry);
      done({ kind: 'ack', status, result, latencyMs: now - entry.writtenAt });
    }
    const joined = entry.joined;
    if (joined) {
      for (const waiter of joined) {
        deadlines.remove(waiter);
        waiter.done({ kind: 'ack', status, result, latencyMs: now - waiter.startedAt });
      }
    }
    return now - entry.writtenAt;
  }

  /** The connection closed: every waiter learns at once instead of at its timeout. */
  closeAll(reason: string): void {
    const all = [...(this.first ? [this.first] : []), ...(this.map?.values() ?? [])];
    this.first = null;
    this.map = null;
    const closed: DeliveryOutcome = { kind: 'closed', reason };
    for (const entry of all) {
      const done = entry.done;
      if (done) {
        entry.done = null;
        deadlines.remove(entry);
        done(closed);
      }
      for (const waiter of entry.joined ?? []) {
        deadlines.remove(waiter);
        waiter.done(closed);
      }
    }
  }

  /** Forgets `entry` once nobody waits for it any more (its last caller timed out). */
  dropIfUnwaited(entry: InFlight): void {
    if (entry.waiters === 0 && this.get(entry.id) === entry) this.forget(entry);
  }

  private get(id: string): InFlight | undefined {
    const first = this.first;
    if (first !== null && first.id === id) return first;
    return this.map?.get(id);
  }

  private forget(entry: InFlight): void {
    if (this.first === entry) {
      this.first = null;
      return;
    }
    const map = this.map;
    if (!map) return;
    map.delete(entry.id);
    if (map.size === 0) this.map = null;
  }
}
