import type { EnqueueInput } from '@outbound/core';

/** The queue-core benchmarks' commands: `count` of them round robin over `devices` devices, every priority, 64-byte payloads. */
export function coreInputs(count: number, devices: number): EnqueueInput[] {
  return Array.from({ length: count }, (_, i) => ({
    phyId: `DEV${String(i % devices).padStart(4, '0')}`,
    payload: Buffer.alloc(64, i & 0xff),
    priority: i % 10,
    ttlMs: 3_600_000,
    ackTimeoutMs: 10_000,
    maxAttempts: 5,
  }));
}
