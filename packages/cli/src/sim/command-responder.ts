import { AckStatus } from '@outbound/core';
import { decideOutcome, type DeviceBehaviour } from './behaviour';
import { CommandLedger } from './command-ledger';

/** Counters a simulated device keeps; DeviceFleet sums them. */
export interface DeviceStats {
  /** COMMAND frames received, duplicates included. */
  received: number;
  /** Distinct commands applied. */
  applied: number;
  /** COMMAND frames for an id already answered OK or REJECTED. */
  duplicates: number;
  /** ACKs sent with OK, REJECTED, BUSY. */
  acked: number;
  rejected: number;
  busy: number;
  /** ACKs withheld (noAckRate). */
  noAck: number;
  /** Handshakes completed (WELCOME received). */
  connects: number;
}

/** The device's answer to one COMMAND. */
export interface CommandAnswer {
  status: number;
  result: Buffer;
  duplicate: boolean;
}

const DEFAULT_RESULT = Buffer.from('ok');
const REJECTED_RESULT = Buffer.from('rejected');
const BUSY_RESULT = Buffer.from('busy');

/** Counters all at zero (a device's own, or a fleet's sums). */
export function zeroStats(): DeviceStats {
  return { received: 0, applied: 0, duplicates: 0, acked: 0, rejected: 0, busy: 0, noAck: 0, connects: 0 };
}

/**
 * Decides what a device answers a command, independent of any socket: a known id gets the
 * answer it got before (effectively-once), a fresh one is rolled against the behaviour and
 * applied when OK. Counts everything in `stats`, and in `totals` when given (counters many
 * devices share, so a fleet reads its sums without walking every device).
 */
export class CommandResponder {
  readonly stats: DeviceStats = zeroStats();
  readonly ledger: CommandLedger;

  constructor(
    historyLimit: number | undefined,
    private readonly resultOf?: (id: string, payload: Buffer) => Buffer,
    private readonly totals?: DeviceStats,
  ) {
    this.ledger = new CommandLedger(historyLimit);
  }

  answer(id: string, payload: Buffer, behaviour: DeviceBehaviour): CommandAnswer {
    this.count('received');
    const known = this.ledger.get(id);
    if (known) {
      this.count('duplicates');
      return { status: known.status, result: known.result, duplicate: true };
    }
    const status = decideOutcome(behaviour);
    if (status === AckStatus.BUSY) return { status, result: BUSY_RESULT, duplicate: false };
    // The caller's result is copied: it may be a view of the payload, which is a view of a read.
    // The shared defaults are never written to.
    const result = status !== AckStatus.OK ? REJECTED_RESULT : this.resultOf ? Buffer.from(this.resultOf(id, payload)) : DEFAULT_RESULT;
    this.ledger.record(id, status, result);
    if (status === AckStatus.OK) this.count('applied');
    return { status, result, duplicate: false };
  }

  /** Counts an ACK as sent (`sent`) or withheld. */
  countAck(status: number, sent: boolean): void {
    if (!sent) this.count('noAck');
    else if (status === AckStatus.OK) this.count('acked');
    else if (status === AckStatus.REJECTED) this.count('rejected');
    else this.count('busy');
  }

  /** One more of `what`, in the device's counters and the shared ones. */
  count(what: keyof DeviceStats): void {
    this.stats[what] += 1;
    if (this.totals) this.totals[what] += 1;
  }
}
