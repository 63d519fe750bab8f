/** Reconnect policy: exponential from minMs, capped at maxMs, each delay jittered. */
export interface ReconnectPolicy {
  minMs: number;
  maxMs: number;
}

/**
 * Jittered exponential backoff ("equal jitter": half the step fixed, half random), so a
 * fleet dropped at once does not reconnect at once, while a single device still waits at
 * least minMs / 2. reset() after a successful handshake.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly policy: ReconnectPolicy) {
    if (!(policy.minMs >= 0 && policy.maxMs >= policy.minMs)) {
      throw new RangeError(`reconnect needs 0 <= minMs <= maxMs, got ${policy.minMs}..${policy.maxMs}`);
    }
  }

  /** The next delay in ms; grows until maxMs. */
  next(): number {
    const step = Math.min(this.policy.maxMs, this.policy.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return step / 2 + Math.random() * (step / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
