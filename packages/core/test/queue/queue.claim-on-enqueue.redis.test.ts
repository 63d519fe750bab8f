import Redis from 'ioredis';
import { RedisQueue, ValidatedQueue, type ClaimedCommand, type LocalClaim, type LocalClaimer } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { cmd } from './conformance';

/** A claimer that takes up to `room` per enqueue call and keeps what each call settled. */
class RecordingClaimer implements LocalClaimer {
  readonly settled: ClaimedCommand[][] = [];
  constructor(public room: number, private readonly leaseMs = 60_000) {}
  offer(phyIds: readonly string[]): LocalClaim | null {
    const max = Math.min(phyIds.length, this.room);
    if (max <= 0) return null;
    return { max, leaseMs: this.leaseMs, settle: (claimed) => this.settled.push(claimed) };
  }
}

describe('an enqueue that claims for the dispatch loop of its own process (Redis)', () => {
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueue>> = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  const open = (prefix: string, shards = 16): ValidatedQueue<RedisQueue> => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const queue = new ValidatedQueue(new RedisQueue(client, { prefix, shards }));
    queues.push(queue);
    return queue;
  };

  it('leases the command it made ready, in the same call, with its payload and the lease asked', async () => {
    const queue = open(uniquePrefix('enqueue-claim'));
    const claimer = new RecordingClaimer(10);
    queue.setLocalClaimer(claimer);
    const before = Date.now();
    const input = cmd('eqc-dev-1');
    const { id } = await queue.enqueue(input);
    expect(claimer.settled).toHaveLength(1);
    const [claimed] = claimer.settled[0]!;
    expect(claimed).toMatchObject({ id, phyId: 'eqc-dev-1', attempts: 1, priority: 5 });
    expect(claimed!.payload.equals(input.payload as Buffer)).toBe(true);
    expect(claimed!.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000 - 1_000);
    const stored = await queue.get(id);
    expect(stored).toMatchObject({ status: 'inflight', attempts: 1 });
    // Nothing is left for a claim after the wake-up.
    expect(await queue.claim({ max: 10, leaseMs: 60_000 })).toEqual([]);
    expect((await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]))[0]).toMatchObject({ ok: true, status: 'acked' });
  });

  it('keeps per-device order: a command behind one in flight waits, and is claimed after the ack', async () => {
    const queue = open(uniquePrefix('enqueue-claim-order'));
    const claimer = new RecordingClaimer(10);
    queue.setLocalClaimer(claimer);
    const first = await queue.enqueue(cmd('eqc-order'));
    const second = await queue.enqueue(cmd('eqc-order'));
    expect(claimer.settled.map((batch) => batch.map((c) => c.id))).toEqual([[first.id], []]);
    expect((await queue.get(second.id))?.status).toBe('queued');
    const held = claimer.settled[0]![0]!;
    await queue.ack([{ id: held.id, leaseToken: held.leaseToken, outcome: 'ok' }]);
    expect((await queue.claim({ max: 10, leaseMs: 60_000 })).map((c) => c.id)).toEqual([second.id]);
  });

  it('claims no more than offered, best first, and leaves the rest to claim', async () => {
    const queue = open(uniquePrefix('enqueue-claim-max'), 1);
    const claimer = new RecordingClaimer(2);
    queue.setLocalClaimer(claimer);
    const answers = await queue.enqueueBatch([cmd('eqc-a'), cmd('eqc-b', { priority: 9 }), cmd('eqc-c')]);
    const ids = answers.map((a) => (a as { id: string }).id);
    expect(claimer.settled).toHaveLength(1);
    expect(claimer.settled[0]!.map((c) => c.id)).toEqual([ids[1], ids[0]]);
    expect((await queue.claim({ max: 10, leaseMs: 60_000 })).map((c) => c.id)).toEqual([ids[2]]);
  });

  it('remembers the claim under its lease token, so a re-sent call answers the same commands', async () => {
    const queue = open(uniquePrefix('enqueue-claim-memory'), 1);
    const claimer = new RecordingClaimer(5);
    queue.setLocalClaimer(claimer);
    const { id } = await queue.enqueue(cmd('eqc-memory'));
    const token = claimer.settled[0]![0]!.leaseToken;
    // The claim script finds the same request in the shared request memory and claims nothing new.
    await queue.enqueue(cmd('eqc-memory-other'));
    const again = await queue.store.claimShard(0, 5, 60_000, token);
    expect(again.map((c) => c.id)).toEqual([id]);
  });

  it('gives back what it claimed when the lease lapses (the process died after the call)', async () => {
    const queue = open(uniquePrefix('enqueue-claim-lapse'));
    const claimer = new RecordingClaimer(5, 200);
    queue.setLocalClaimer(claimer);
    const { id } = await queue.enqueue(cmd('eqc-lapse'));
    expect(claimer.settled[0]!.map((c) => c.id)).toEqual([id]);
    queue.setLocalClaimer(null);
    await waitFor(async () => (await queue.reclaimExpired()) > 0, { timeoutMs: 10_000, what: 'the lapsed lease reclaimed' });
    const again = await queue.claim({ max: 5, leaseMs: 60_000 });
    expect(again.map((c) => [c.id, c.attempts])).toEqual([[id, 2]]);
  });
});
