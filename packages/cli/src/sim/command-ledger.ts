import { AckStatus } from '@outbound/core';

/** The answer a device gave a command id, repeated when the id comes again. */
export interface LedgerEntry {
  status: number;
  result: Buffer;
  applied: number;
}

/**
 * What a device remembers about command ids: the answer it gave (OK or REJECTED: BUSY is
 * not remembered, so a re-send is a fresh attempt) and how often it applied each id. This
 * is the device half of effectively-once application.
 *
 * Bounded: the oldest `limit` ids are forgotten once it holds twice that many, so a
 * long-running fleet does not grow without end (the real device would keep them for the
 * longest command TTL).
 */
export class CommandLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private readonly applied: string[] = [];

  constructor(private readonly limit = 100_000) {}

  get(id: string): LedgerEntry | undefined {
    return this.entries.get(id);
  }

  /** Records a fresh command's answer; an OK counts as one application. */
  record(id: string, status: number, result: Buffer): void {
    const applied = status === AckStatus.OK ? 1 : 0;
    this.entries.set(id, { status, result, applied });
    if (applied) this.applied.push(id);
    if (this.entries.size > 2 * this.limit) this.forgetOldest();
  }

  /** Ids in the order they were applied (the last `limit` at least). */
  get appliedIds(): ReadonlyArray<string> {
    return this.applied;
  }

  appliedCount(id: string): number {
    return this.entries.get(id)?.applied ?? 0;
  }

  private forgetOldest(): void {
    // Map iterates in insertion order: the first keys are the oldest.
    let drop = this.entries.size - this.limit;
    for (const id of this.entries.keys()) {
      if (drop-- <= 0) break;
      this.entries.delete(id);
    }
    if (this.applied.length > this.limit) this.applied.splice(0, this.applied.length - this.limit);
  }
}
