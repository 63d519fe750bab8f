/** What a COMMAND written on a connection came to, for each caller waiting on it. */
export type DeliveryOutcome =
  | { kind: 'ack'; status: number; result: Buffer; latencyMs: number }
  | { kind: 'timeout' }
  | { kind: 'closed'; reason: string };

interface Waiter {
  resolve: (outcome: DeliveryOutcome) => void;
  startedAt: number;
  timer: NodeJS.Timeout;
}

interface Pending {
  writtenAt: number;
  waiters: Waiter[];
}

/**
 * The COMMANDs one connection has written and not yet seen ACKed, and the callers waiting for
 * each (a delivery of an id already in flight joins it: one COMMAND, every caller the same
 * answer, each with its own timeout). The map exists only while something waits: most
 * connections hold none, and there are tens of thousands of them.
 */
export class PendingDeliveries {
  private map: Map<string, Pending> | null = null;

  get size(): number {
    return this.map?.size ?? 0;
  }

  has(id: string): boolean {
    return this.map?.has(id) ?? false;
  }

  /** Callers waiting for `id` (joined ones included). */
  waitersFor(id: string): number {
    return this.map?.get(id)?.waiters.length ?? 0;
  }

  /** Waits for `id`; `joined` is false when the caller must write the COMMAND. */
  wait(id: string, ackTimeoutMs: number): { joined: boolean; outcome: Promise<DeliveryOutcome> } {
    let pending = this.map?.get(id);
    const joined = pending !== undefined;
    if (!pending) {
      pending = { writtenAt: Date.now(), waiters: [] };
      (this.map ??= new Map()).set(id, pending);
    }
    const entry = pending;
    const outcome = new Promise<DeliveryOutcome>((resolve) => {
      const waiter: Waiter = {
        resolve,
        startedAt: Date.now(),
        timer: setTimeout(() => {
          entry.waiters.splice(entry.waiters.indexOf(waiter), 1);
          if (entry.waiters.length === 0 && this.map?.get(id) === entry) this.forget(id);
          resolve({ kind: 'timeout' });
        }, ackTimeoutMs),
      };
      entry.waiters.push(waiter);
    });
    return { joined, outcome };
  }

  /** An ACK: answers everyone waiting for `id`; the ms since its COMMAND was written, or null when nobody waited (late or duplicate). */
  settle(id: string, status: number, result: Buffer): number | null {
    const pending = this.map?.get(id);
    if (!pending) return null;
    this.forget(id);
    const now = Date.now();
    for (const waiter of pending.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve({ kind: 'ack', status, result, latencyMs: now - waiter.startedAt });
    }
    return now - pending.writtenAt;
  }

  /** The connection closed: every waiter learns at once instead of at its timeout. */
  closeAll(reason: string): void {
    const map = this.map;
    this.map = null;
    for (const pending of map?.values() ?? []) {
      for (const waiter of pending.waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve({ kind: 'closed', reason });
      }
    }
  }

  private forget(id: string): void {
    this.map?.delete(id);
    if (this.map?.size === 0) this.map = null;
  }
}
