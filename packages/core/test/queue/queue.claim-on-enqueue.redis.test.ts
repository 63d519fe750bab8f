import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, ValidatedQueue, type ClaimedCommand, type LocalClaim, type LocalClaimer } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { cmd } from './conformance';
import { enqueueArgs, parseEnqueueReply } from '../../src/queue/redis-v3/script-args-v3';
import type { ScriptsV3 } from '../../src/queue/redis-v3/scripts-v3';

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

type Store = RedisQueue | RedisQueueV3;
type Options = { shards?: number; maxInFlightPerDevice?: number };

const LAYOUTS: Array<[string, (client: Redis, prefix: string, options: Options) => Store]> = [
  ['v2', (client, prefix, options) => new RedisQueue(client, { prefix, ...options })],
  ['v3', (client, prefix, options) => new RedisQueueV3(client, { prefix, ...options })],
];

describe.each(LAYOUTS)('an enqueue that claims for the dispatch loop of its own process (Redis, %s layout)', (_layout, make) => {
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<Store>> = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  const open = (prefix: string, shards = 16, options: Options = {}): ValidatedQueue<Store> => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const queue = new ValidatedQueue(make(client, prefix, { shards, ...options }));
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
    expect((await queue.stats()).total).toMatchObject({ pending: 0, inflight: 1 });
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

  it('claims across the shards of one batch no more than offered in all, best first', async () => {
    const queue = open(uniquePrefix('enqueue-claim-shards'), 16);
    const claimer = new RecordingClaimer(3);
    queue.setLocalClaimer(claimer);
    const devices = Array.from({ length: 8 }, (_, i) => `eqc-shards-${i}`);
    const answers = await queue.enqueueBatch(devices.map((phyId, i) => cmd(phyId, { priority: i === 5 ? 9 : 5 })));
    const ids = answers.map((a) => (a as { id: string }).id);
    expect(claimer.settled).toHaveLength(1);
    const taken = claimer.settled[0]!;
    expect(taken).toHaveLength(3);
    expect(new Set(taken.map((c) => c.phyId)).size).toBe(3);
    // Best first: a priority 9 command that was claimed comes before the others.
    const urgent = taken.findIndex((c) => c.id === ids[5]);
    if (urgent >= 0) expect(urgent).toBe(0);
    const rest = await queue.claim({ max: 10, leaseMs: 60_000 });
    expect([...taken, ...rest].map((c) => c.id).sort()).toEqual([...ids].sort());
    const acks = await queue.ack([...taken, ...rest].map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acks.every((a) => a.ok)).toBe(true);
  });

  it('takes a ready device\'s oldest command first, and only as many as its in-flight limit allows', async () => {
    const queue = open(uniquePrefix('enqueue-claim-limit'), 4, { maxInFlightPerDevice: 2 });
    // Ready before any claimer: the device waits in the shard's ready set with its first command.
    const first = await queue.enqueue(cmd('eqc-limit'));
    const claimer = new RecordingClaimer(5);
    queue.setLocalClaimer(claimer);
    const answers = await queue.enqueueBatch([cmd('eqc-limit'), cmd('eqc-limit')]);
    const [second, third] = answers.map((a) => (a as { id: string }).id);
    expect(claimer.settled.map((batch) => batch.map((c) => c.id))).toEqual([[first.id, second]]);
    expect((await queue.get(third!))?.status).toBe('queued');
    // Two in flight: the device is out of the ready set until one is acked.
    queue.setLocalClaimer(null);
    expect(await queue.claim({ max: 10, leaseMs: 60_000 })).toEqual([]);
    const held = claimer.settled[0]![0]!;
    await queue.ack([{ id: held.id, leaseToken: held.leaseToken, outcome: 'ok' }]);
    expect((await queue.claim({ max: 10, leaseMs: 60_000 })).map((c) => c.id)).toEqual([third]);
  });

  it('remembers the claim under its lease token, so a re-sent call answers the same commands', async () => {
    const queue = open(uniquePrefix('enqueue-claim-memory'), 1);
    const claimer = new RecordingClaimer(5);
    queue.setLocalClaimer(claimer);
    const { id } = await queue.enqueue(cmd('eqc-memory'));
    const token = claimer.settled[0]![0]!.leaseToken;
    // The claim script finds the same request in the shared request memory and claims nothing new.
    queue.setLocalClaimer(null);
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

  it('publishes no wake-up for what it claimed, and one for what it left ready', async () => {
    const queue = open(uniquePrefix('enqueue-claim-wake'), 1);
    const listener = new Redis(testRedisUrl());
    clients.push(listener);
    const messages: string[] = [];
    listener.on('message', (_channel: string, message: string) => messages.push(message));
    await listener.subscribe(queue.store.keys.wakeChannel());
    const claimer = new RecordingClaimer(1);
    queue.setLocalClaimer(claimer);
    await queue.enqueue(cmd('eqc-wake-1'));
    expect(claimer.settled.map((batch) => batch.length)).toEqual([1]);
    // Two devices, room for one: the other is left ready, and the call says so.
    await queue.enqueueBatch([cmd('eqc-wake-2'), cmd('eqc-wake-3')]);
    expect(claimer.settled.map((batch) => batch.length)).toEqual([1, 1]);
    await waitFor(() => messages.length > 0, { what: 'the wake-up for the device left ready' });
    // Messages arrive in publish order: had the first call published, its message came first.
    queue.setLocalClaimer(null);
    await queue.enqueue(cmd('eqc-wake-4'));
    await waitFor(() => messages.length >= 2, { what: 'the wake-up of an enqueue that did not claim' });
    expect(messages).toHaveLength(2);
  });
});

describe('v3 layout: the claim of an enqueue', () => {
  const clients: Redis[] = [];
  const queues: Array<ValidatedQueue<RedisQueueV3>> = [];
  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.close()));
    await Promise.all(clients.splice(0).map((c) => c.quit()));
  });
  const open = (prefix: string): ValidatedQueue<RedisQueueV3> => {
    const client = new Redis(testRedisUrl());
    clients.push(client);
    const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix, shards: 1 }));
    queues.push(queue);
    return queue;
  };

  it('answers, when its script is sent again, what the first run claimed and claims nothing more', async () => {
    const queue = open(uniquePrefix('enqueue-claim-resend'));
    const scripts = (queue.store as unknown as { scripts: ScriptsV3 }).scripts;
    const keys = queue.store.keys.shardKeyList(0);
    const item = { ...cmd('eqc-resend'), id: queue.store.newCommandId('eqc-resend'), fingerprint: 'f', priority: 5, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5 };
    const settings = { maxInFlight: 1, retentionMs: 3_600_000, wake: 'eqc-resend-wake', claimMemoryMs: 60_000, keepPayload: false };
    const args = enqueueArgs([item as never], { ...settings, perDeviceCap: 100, shardCap: 1_000, depth: 0, requestToken: 'resend-token-001', claim: { max: 1, leaseMs: 60_000 } });
    const first = parseEnqueueReply(await scripts.runBuffer('enqueue', keys, args), [item.id], 'resend-token-001');
    expect(first.claimed.map((c) => c.id)).toEqual([item.id]);
    // Something else ready meanwhile: the re-sent call must not take it.
    const other = await queue.enqueue(cmd('eqc-resend-other'));
    const again = parseEnqueueReply(await scripts.runBuffer('enqueue', keys, args), [item.id], 'resend-token-001');
    expect(again.answers).toEqual([{ code: 0, id: item.id, status: 'inflight' }]);
    expect(again.claimed.map((c) => [c.id, c.leaseToken])).toEqual([[item.id, 'resend-token-001']]);
    expect((await queue.claim({ max: 10, leaseMs: 60_000 })).map((c) => c.id)).toEqual([other.id]);
  });

  it('leaves a head whose TTL passed for a claim to expire, and claims nothing of that device', async () => {
    const queue = open(uniquePrefix('enqueue-claim-ttl'));
    const stale = await queue.enqueue(cmd('eqc-ttl', { ttlMs: 50 }));
    const at = Date.now();
    await waitFor(() => Date.now() > at + 200, { what: 'the first command\'s TTL passed' });
    const claimer = new RecordingClaimer(5);
    queue.setLocalClaimer(claimer);
    const fresh = await queue.enqueue(cmd('eqc-ttl'));
    expect(claimer.settled).toEqual([[]]);
    queue.setLocalClaimer(null);
    expect((await queue.claim({ max: 5, leaseMs: 60_000 })).map((c) => c.id)).toEqual([fresh.id]);
    expect((await queue.get(stale.id))?.status).toBe('expired');
  });
});
