import { AckStatus } from '@outbound/core';

/**
 * How a simulated device answers commands. Rates are probabilities in 0..1, rolled
 * independently per command: BUSY first, then REJECTED, otherwise the command is applied.
 * `noAckRate` is rolled last on every ACK about to be sent (a duplicate's too): the command
 * was handled but its ACK is lost, which is what drives Outbound's ACK timeouts and retries.
 */
export interface DeviceBehaviour {
  /** Delay between receiving a COMMAND and sending its ACK: fixed, uniform in [min, max], or sampled. */
  ackLatencyMs?: number | { min: number; max: number } | (() => number);
  /** Share of fresh commands answered REJECTED (not applied; a re-send is re-answered REJECTED). */
  rejectRate?: number;
  /** Share of fresh commands answered BUSY (not applied; a re-send is a fresh attempt). */
  busyRate?: number;
  /** Share of ACKs never sent (the command still counts as handled). */
  noAckRate?: number;
}

/** What the device decided for a fresh command. */
export type CommandOutcome = typeof AckStatus.OK | typeof AckStatus.REJECTED | typeof AckStatus.BUSY;

/** Throws RangeError naming the field when a behaviour value is out of range. */
export function validateBehaviour(behaviour: Partial<DeviceBehaviour>): void {
  for (const field of ['rejectRate', 'busyRate', 'noAckRate'] as const) {
    const value = behaviour[field];
    if (value !== undefined && !(value >= 0 && value <= 1)) throw new RangeError(`${field} must be in 0..1, got ${value}`);
  }
  const latency = behaviour.ackLatencyMs;
  if (typeof latency === 'number' && !(latency >= 0)) throw new RangeError(`ackLatencyMs must be >= 0, got ${latency}`);
  if (typeof latency === 'object' && !(latency.min >= 0 && latency.max >= latency.min)) {
    throw new RangeError(`ackLatencyMs range must have 0 <= min <= max, got ${latency.min}-${latency.max}`);
  }
}

/** Samples one ACK delay in milliseconds (0 when unset). */
export function sampleLatency(latency: DeviceBehaviour['ackLatencyMs']): number {
  if (latency === undefined) return 0;
  if (typeof latency === 'number') return latency;
  if (typeof latency === 'function') return Math.max(0, latency());
  return latency.min + Math.random() * (latency.max - latency.min);
}

/** Rolls BUSY, then REJECTED, else OK. */
export function decideOutcome(behaviour: DeviceBehaviour, random: () => number = Math.random): CommandOutcome {
  // A rate of 0 needs no roll (the usual case: every command applied).
  const { busyRate = 0, rejectRate = 0 } = behaviour;
  if (busyRate > 0 && random() < busyRate) return AckStatus.BUSY;
  if (rejectRate > 0 && random() < rejectRate) return AckStatus.REJECTED;
  return AckStatus.OK;
}

/** Parses "5", "5-20" (uniform range) as the CLI's --ack-latency; RangeError on anything else. */
export function parseLatency(text: string): number | { min: number; max: number } {
  const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!match) throw new RangeError(`ack latency must be "MS" or "MIN-MAX" in milliseconds, got ${JSON.stringify(text)}`);
  const min = Number(match[1]);
  if (match[2] === undefined) return min;
  const max = Number(match[2]);
  if (max < min) throw new RangeError(`ack latency range ${text} has max below min`);
  return { min, max };
}
