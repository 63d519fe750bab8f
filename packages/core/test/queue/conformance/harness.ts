import { ackThenClaim, type ClaimedCommand, type CommandQueue, type EnqueueInput, type QueueOptions } from '@outbound/core';

/**
 * Makes a fresh, empty queue for one test; cleanup() closes it (and its siblings) and drops its
 * data. sibling(), when given, answers another instance on the same store and options (another
 * dispatcher): racing-claimer tests use them, and fall back to one shared instance without it.
 */
export type MakeQueue = (
  options: QueueOptions,
) => Promise<{ queue: CommandQueue; cleanup(): Promise<void>; sibling?(): Promise<CommandQueue> }>;

const siblingFactories = new WeakMap<CommandQueue, () => Promise<CommandQueue>>();

/** `n` claimers on the queue's store: the queue itself and n-1 siblings (or itself again). */
export async function claimersFor(queue: CommandQueue, n: number): Promise<CommandQueue[]> {
  const sibling = siblingFactories.get(queue);
  const list = [queue];
  for (let i = 1; i < n; i += 1) list.push(sibling ? await sibling() : queue);
  return list;
}

/**
 * Per-test queue factory: `open(opts)` gives a fresh queue, closed after the test. The suite
 * only uses the CommandQueue interface; time passes through small TTL/backoff/lease values.
 */
export function useQueues(makeQueue: MakeQueue): (options?: QueueOptions) => Promise<CommandQueue> {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return async (options: QueueOptions = {}) => {
    const made = await makeQueue(options);
    cleanups.push(() => made.cleanup());
    if (made.sibling) siblingFactories.set(made.queue, made.sibling.bind(made));
    return made.queue;
  };
}

/** An enqueue input with the design defaults (priority 5, TTL 1 h, 5 attempts). */
export function cmd(phyId: string, overrides: Partial<EnqueueInput> = {}): EnqueueInput {
  return {
    phyId,
    payload: Buffer.from(`payload for ${phyId}`),
    priority: 5,
    ttlMs: 3_600_000,
    ackTimeoutMs: 10_000,
    maxAttempts: 5,
    ...overrides,
  };
}

export async function enqueueAll(queue: CommandQueue, inputs: EnqueueInput[]): Promise<string[]> {
  const results = await queue.enqueueBatch(inputs);
  return results.map((r) => {
    if (r instanceof Error) throw r;
    return r.id;
  });
}

/** Claims and acks until nothing is claimable; answers ids in claim order. */
export async function drain(queue: CommandQueue, max = 1, leaseMs = 30_000): Promise<ClaimedCommand[]> {
  const order: ClaimedCommand[] = [];
  for (;;) {
    const batch = await queue.claim({ max, leaseMs });
    if (batch.length === 0) return order;
    order.push(...batch);
    const acked = await queue.ack(batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.every((a) => a.ok)).toBe(true);
  }
}

/**
 * drain() as a claimer that claims its next batch with its acks (ackThenClaim: the store's
 * ackAndClaim where it has one), and claims on its own only when that answered none.
 */
export async function drainAckingWithClaim(queue: CommandQueue, max = 1, leaseMs = 30_000): Promise<ClaimedCommand[]> {
  const order: ClaimedCommand[] = [];
  let batch = await queue.claim({ max, leaseMs });
  while (batch.length > 0) {
    order.push(...batch);
    const { results, claimed } = await ackThenClaim(queue, batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })), { max, leaseMs });
    expect(results.map((r) => r.ok && r.status)).toEqual(batch.map(() => 'acked'));
    expect(claimed.length).toBeLessThanOrEqual(max);
    batch = claimed.length > 0 ? claimed : await queue.claim({ max, leaseMs });
  }
  return order;
}

export const LONG_LEASE = 60_000;
