import Redis from 'ioredis';
import { isOutboundError, RedisQueueV3, ValidatedQueue } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { parseRecord, payloadHash } from '../../src/queue/redis-v3/records-v3';
import { enqueueArgs, parseEnqueueReply } from '../../src/queue/redis-v3/script-args-v3';
import { commandNameV3, loadScriptV3, ScriptsV3, V3_SCRIPT_FLAGS, V3_SCRIPTS } from '../../src/queue/redis-v3/scripts-v3';
import { cmd } from './conformance';

/**
 * v3-layout properties the conformance suite does not see: scripts safe to run twice (ioredis
 * re-sends after a reconnect), the record kept at finish (payload dropped, its size and hash
 * kept), one lease entry per claim batch, the sparse expiry index, Redis' clock, script names
 * and flags.
 */
describe('RedisQueueV3 scripts and layout', () => {
  let client: Redis;
  let store: RedisQueueV3;
  let queue: ValidatedQueue<RedisQueueV3>;
  let prefix: string;

  beforeEach(() => {
    client = new Redis(testRedisUrl());
    prefix = uniquePrefix('v3');
    store = new RedisQueueV3(client, { prefix, shards: 1, retentionMs: 60_000 });
    queue = new ValidatedQueue(store);
  });

  afterEach(async () => {
    await queue.close();
    await client.quit();
  });

  it('answers every field of a claimed command as the stored record holds it', async () => {
    const inputs = [
      { ...cmd('fields-a'), priority: 2, maxAttempts: 7, ackTimeoutMs: 4_321, ttlMs: 50_000, payload: Buffer.from([0, 1, 255]) },
      { ...cmd('fields-b'), idempotencyKey: 'key-b', traceContext: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      { ...cmd('fields-c'), payload: Buffer.alloc(0), deliverAt: Date.now() - 1_000 },
      { ...cmd('fields-d'), payload: Buffer.alloc(1_000, 7) },
    ];
    const ids = (await queue.enqueueBatch(inputs)).map((r) => (isOutboundError(r) ? r.message : r.id));
    const claimed = await store.claimShard(0, 10, 60_000, 'fields-token');
    expect(claimed.map((c) => c.id).sort()).toEqual([...ids].sort());
    for (const c of claimed) {
      const stored = (await store.get(c.id))!;
      const expected: Record<string, unknown> = {
        id: stored.id, phyId: stored.phyId, payload: stored.payload, priority: stored.priority, attempts: 1, maxAttempts: stored.maxAttempts,
        ackTimeoutMs: stored.ackTimeoutMs, expiresAt: stored.expiresAt, createdAt: stored.createdAt, leaseToken: 'fields-token', leaseExpiresAt: c.leaseExpiresAt,
      };
      if (stored.traceContext !== undefined) expected.traceContext = stored.traceContext;
      expect(c).toStrictEqual(expected);
      expect(stored.attempts).toBe(1);
      expect(c.leaseExpiresAt).toBeGreaterThan(c.createdAt);
    }
    expect(claimed.find((c) => c.phyId === 'fields-b')!.traceContext).toBe(inputs[1]!.traceContext);
  });

  it('claims nothing more when a claim request is run again, and answers the same commands', async () => {
    await queue.enqueueBatch(Array.from({ length: 5 }, (_, i) => cmd(`rerun-${i}`)));
    const first = await store.claimShard(0, 3, 60_000, 'request-1');
    const again = await store.claimShard(0, 3, 60_000, 'request-1');
    expect(first).toHaveLength(3);
    expect(again.map((c) => [c.id, c.leaseToken, c.attempts, c.leaseExpiresAt])).toEqual(first.map((c) => [c.id, c.leaseToken, c.attempts, c.leaseExpiresAt]));
    expect((await queue.stats()).total).toMatchObject({ inflight: 3, pending: 2 });
    const rest = await store.claimShard(0, 10, 60_000, 'request-2');
    expect(rest).toHaveLength(2);
    expect(rest.map((c) => c.id)).not.toEqual(expect.arrayContaining(first.map((c) => c.id)));
  });

  it('answers a re-sent ack, fail or release by the same holder as before, without a second effect', async () => {
    await queue.enqueueBatch([cmd('twice-ack'), cmd('twice-fail'), cmd('twice-release')]);
    const claimed = await queue.claim({ max: 3, leaseMs: 60_000 });
    const by = (phyId: string) => claimed.find((c) => c.phyId === phyId)!;
    const ack = { id: by('twice-ack').id, leaseToken: by('twice-ack').leaseToken, outcome: 'ok' as const };
    const [a1] = await queue.ack([ack]);
    expect(a1).toEqual({ id: ack.id, ok: true, status: 'acked' });
    expect(await queue.ack([ack])).toEqual([a1]);

    const fail = { id: by('twice-fail').id, leaseToken: by('twice-fail').leaseToken, error: 'busy', retryable: true, retryDelayMs: 60_000 };
    const [f1] = await queue.fail([fail]);
    expect(f1).toEqual({ id: fail.id, ok: true, status: 'queued' });
    expect(await queue.fail([fail])).toEqual([f1]);
    expect(await queue.get(fail.id)).toMatchObject({ attempts: 1, status: 'queued', waitingFor: 'backoff' });

    const release = { id: by('twice-release').id, leaseToken: by('twice-release').leaseToken };
    await queue.release([release]);
    await queue.release([release]);
    expect(await queue.get(release.id)).toMatchObject({ attempts: 0, status: 'queued' });
    expect(await queue.countDevice('twice-release')).toBe(1);
    expect((await queue.stats()).total).toMatchObject({ inflight: 0, pending: 1, delayed: 1 });
  });

  it('answers an id acked twice in one call as a re-sent ack, the second item finding what the first finished', async () => {
    await queue.enqueueBatch([cmd('same-call')]);
    const [c] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const ack = { id: c!.id, leaseToken: c!.leaseToken, outcome: 'ok' as const };
    const answers = await store.ack([ack, ack, { ...ack, leaseToken: 'another-holder' }]);
    expect(answers.slice(0, 2)).toEqual([{ id: ack.id, ok: true, status: 'acked' }, { id: ack.id, ok: true, status: 'acked' }]);
    expect(answers[2]!.ok).toBe(false);
    expect(await queue.get(ack.id)).toMatchObject({ status: 'acked', attempts: 1 });
    expect((await queue.stats()).total).toMatchObject({ inflight: 0, pending: 0 });
  });

  it('writes every finished record of an ack call that fills a whole write of them', async () => {
    const devices = 500; // one ack call's most (its records go out 500 at a time)
    await queue.enqueueBatch(Array.from({ length: devices }, (_, i) => cmd(`whole-${i}`)));
    const claimed = await store.claimShard(0, devices, 60_000);
    expect(claimed).toHaveLength(devices);
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.filter((a) => a.ok)).toHaveLength(devices);
    const records = await Promise.all(claimed.map((c) => queue.get(c.id)));
    expect(records.filter((r) => r?.status === 'acked')).toHaveLength(devices);
  });

  it('creates one command when an enqueue script is run twice with the same id, even on a full device', async () => {
    const scripts = new ScriptsV3(client);
    const keys = store.keys.shardKeyList(0);
    const input = cmd('twice-enqueue', { payload: Buffer.from([0, 1, 2]) });
    const ids = [store.keys.newCommandId(0), store.keys.newCommandId(0)];
    // a per-device cap of 2: the re-sent script finds the device full of its own commands
    const args = enqueueArgs(
      ids.map((id) => ({ ...input, id, fingerprint: '' })),
      { maxInFlight: 1, perDeviceCap: 2, shardCap: 1000, retentionMs: 60_000, wake: store.keys.wakeChannel(), claimMemoryMs: 60_000, keepPayload: false, depth: 0, requestToken: 'enqueue-request-1' },
    );
    const first = parseEnqueueReply(await scripts.run('enqueue', keys, args), ids);
    const second = parseEnqueueReply(await scripts.run('enqueue', keys, args), ids);
    // the first run answers each created command with one integer, the re-sent one in full
    expect(first.answers).toEqual(ids.map((id) => ({ code: 0, id, status: 'queued' })));
    expect(second).toEqual(first);
    expect(await queue.countDevice('twice-enqueue')).toBe(2);
    expect((await queue.get(ids[0]!))?.payload).toEqual(Buffer.from([0, 1, 2]));
    // sent again after the first command finished: answered as finished, not created again
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.ack([{ id: claimed!.id, leaseToken: claimed!.leaseToken, outcome: 'ok' }]);
    const third = (await scripts.run('enqueue', keys, args)) as [Array<[number, string, string]>, unknown];
    expect(third[0].map(([code, id, status]) => [code, id, status])).toEqual([
      [0, ids[0], 'acked'],
      [0, ids[1], 'queued'],
    ]);
    expect(await queue.countDevice('twice-enqueue')).toBe(1);
  });

  it('answers a key repeated within one enqueue call with the command its first item made, before any record is written', async () => {
    const [first, again, conflict] = await queue.enqueueBatch([
      cmd('idem-in-call', { idempotencyKey: 'k', payload: Buffer.from('one') }),
      cmd('idem-in-call', { idempotencyKey: 'k', payload: Buffer.from('one') }),
      cmd('idem-in-call', { idempotencyKey: 'k', payload: Buffer.from('two') }),
    ]);
    expect(first).toMatchObject({ status: 'queued', duplicate: false });
    expect(again).toEqual({ id: (first as { id: string }).id, status: 'queued', duplicate: true });
    expect(isOutboundError(conflict, 'IDEMPOTENCY_CONFLICT')).toBe(true);
    expect(await queue.countDevice('idem-in-call')).toBe(1);
    expect((await queue.get((first as { id: string }).id))?.payload).toEqual(Buffer.from('one'));
  });

  it('keeps an in-flight command whole when an ack with another token is refused', async () => {
    const { id } = await queue.enqueue(cmd('refused-ack', { payload: Buffer.from('keep me') }));
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const [refused] = await queue.ack([{ id, leaseToken: 'someone-else', outcome: 'ok' }]);
    expect(!refused!.ok && isOutboundError(refused!.error, 'LEASE_LOST')).toBe(true);
    expect(await queue.get(id)).toMatchObject({ status: 'inflight', payload: Buffer.from('keep me'), attempts: 1 });
    expect(await client.ttl(store.keys.command(id)!)).toBe(-1);
    expect(await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok' }])).toEqual([{ id, ok: true, status: 'acked' }]);
  });

  it('moves finished commands into one hash per creation minute, expired as a whole, and answers none past retention', async () => {
    const { ids } = { ids: (await queue.enqueueBatch(Array.from({ length: 3 }, (_, i) => cmd(`bucket-${i}`)))).map((r) => (r as { id: string }).id) };
    const claimed = await queue.claim({ max: 3, leaseMs: 60_000 });
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    const places = ids.map((id) => store.keys.finished(id)!);
    expect(new Set(places.map((p) => p.bucket)).size).toBe(1);
    for (const id of ids) expect(await client.exists(store.keys.command(id)!)).toBe(0);
    expect(await client.hlen(places[0]!.bucket)).toBe(3);
    const ttl = await client.pttl(places[0]!.bucket);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await queue.get(ids[0]!)).toMatchObject({ id: ids[0], status: 'acked', attempts: 1, phyId: 'bucket-0' });

    const short = new ValidatedQueue(new RedisQueueV3(client, { prefix: `${prefix}-short`, shards: 1, retentionMs: 300 }));
    const { id } = await short.enqueue(cmd('short'));
    const [c] = await short.claim({ max: 1, leaseMs: 60_000 });
    await short.ack([{ id, leaseToken: c!.leaseToken, outcome: 'ok' }]);
    expect(await short.get(id)).toMatchObject({ status: 'acked' });
    const deadline = Date.now() + 10_000;
    while ((await short.get(id)) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await short.get(id)).toBeNull();
    await short.close();
  });

  it('answers every field of a finished command from its compact form', async () => {
    const deliverAt = Date.now() - 1_000;
    const input = cmd('compact', { deliverAt, idempotencyKey: 'compact-1', priority: 7, maxAttempts: 4, ackTimeoutMs: 12_345, ttlMs: 600_000 });
    const { id } = await queue.enqueue(input);
    const before = await queue.get(id);
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    await queue.fail([{ id, leaseToken: claimed!.leaseToken, error: 'device said no', retryable: false }]);
    const after = await queue.get(id);
    expect(store.keys.finished(id)).not.toBeNull();
    expect(await client.hexists(store.keys.finished(id)!.bucket, store.keys.finished(id)!.field)).toBe(1);
    expect(after).toEqual({
      ...before,
      payload: Buffer.alloc(0),
      status: 'rejected',
      attempts: 1,
      lastError: 'device said no',
      updatedAt: after!.updatedAt,
      waitingFor: null,
    });
    expect(after).toMatchObject({ deliverAt: Math.trunc(deliverAt), idempotencyKey: 'compact-1', priority: 7, maxAttempts: 4, ackTimeoutMs: 12_345 });
    expect(after!.updatedAt).toBeGreaterThanOrEqual(before!.updatedAt);
    // the same key again: the finished command, by its fingerprint
    expect(await queue.enqueue(input)).toMatchObject({ id, duplicate: true, status: 'rejected' });
  });

  it('keeps a trace context with the command only when one is given, and answers it on claim and get', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const traced = await queue.enqueue({ ...cmd('traced'), traceContext: traceparent });
    const plain = await queue.enqueue(cmd('untraced'));
    const claimed = await queue.claim({ max: 2, leaseMs: 60_000 });
    expect(claimed.find((c) => c.id === traced.id)?.traceContext).toBe(traceparent);
    expect(claimed.find((c) => c.id === plain.id)).not.toHaveProperty('traceContext');
    expect((await queue.get(traced.id))?.traceContext).toBe(traceparent);
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(await queue.get(traced.id)).toMatchObject({ status: 'acked', traceContext: traceparent });
    expect(await queue.get(plain.id)).not.toHaveProperty('traceContext');
  });

  it('keeps a finished command without its payload (its size and hash stay), unless asked to keep it', async () => {
    const payload = Buffer.alloc(1024, 7);
    const { id } = await queue.enqueue(cmd('finished', { payload }));
    const [claimed] = await queue.claim({ max: 1, leaseMs: 60_000 });
    const queuedBytes = await client.strlen(store.keys.command(id)!);
    await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok', result: Buffer.from('fine') }]);
    const stored = await queue.get(id);
    expect(stored).toMatchObject({ status: 'acked', attempts: 1, lastError: null });
    expect(stored!.payload).toHaveLength(0);
    expect(stored!.result?.toString()).toBe('fine');
    const { bucket, field } = store.keys.finished(id)!;
    const finished = (await client.hgetBuffer(bucket, field))!;
    const record = parseRecord(finished);
    expect(record).toMatchObject({ payloadDropped: true, payloadSize: 1024, phyId: 'finished', maxAttempts: stored!.maxAttempts, ackTimeoutMs: stored!.ackTimeoutMs });
    expect(record.payloadHash).toEqual(payloadHash(payload));
    expect(finished.length).toBeLessThan(queuedBytes - 900 - 20); // 1,024 payload bytes and the pending-only fields gone, a 4-byte result and the token added

    const keeping = new ValidatedQueue(new RedisQueueV3(client, { prefix: `${prefix}-keep`, shards: 1, keepFinishedPayload: true }));
    const kept = await keeping.enqueue(cmd('finished', { payload }));
    const [k] = await keeping.claim({ max: 1, leaseMs: 60_000 });
    await keeping.ack([{ id: kept.id, leaseToken: k!.leaseToken, outcome: 'rejected' }]);
    expect(await keeping.get(kept.id)).toMatchObject({ status: 'rejected', payload, lastError: 'rejected by the device' });
    await keeping.close();
  });

  it('keeps one lease entry per claim batch, gone with its last command, and one expiry entry per device', async () => {
    await queue.enqueueBatch(Array.from({ length: 20 }, (_, i) => cmd(`batch-${i % 10}`)));
    const [leases, expiry] = [`${store.keys.shardPrefix(0)}leases`, `${store.keys.shardPrefix(0)}expiry`];
    expect(await client.zcard(expiry)).toBe(10);
    const claimed = await queue.claim({ max: 10, leaseMs: 60_000 });
    expect(claimed).toHaveLength(10);
    expect(new Set(claimed.map((c) => c.leaseToken)).size).toBe(1);
    expect(await client.zcard(leases)).toBe(1);
    await queue.ack(claimed.slice(0, 9).map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(await client.zcard(leases)).toBe(1);
    await queue.fail([{ id: claimed[9]!.id, leaseToken: claimed[9]!.leaseToken, error: 'late', retryable: false }]);
    expect(await client.zcard(leases)).toBe(0);
    // a stale token stays refused once the batch's entry is gone
    const [late] = await queue.ack([{ id: claimed[0]!.id, leaseToken: 'not-the-token', outcome: 'ok' }]);
    expect(!late!.ok && isOutboundError(late!.error, 'LEASE_LOST')).toBe(true);
  });

  it('claims one command at most in an enqueue whose token ends in ".", whatever claim it is sent', async () => {
    const scripts = new ScriptsV3(client);
    const keys = store.keys.shardKeyList(0);
    const ids = ['dot-a', 'dot-b', 'dot-c'].map(() => store.keys.newCommandId(0));
    const args = enqueueArgs(
      ['dot-a', 'dot-b', 'dot-c'].map((phyId, i) => ({ ...cmd(phyId), id: ids[i]!, fingerprint: '' })),
      {
        maxInFlight: 1, perDeviceCap: 10, shardCap: 1000, retentionMs: 60_000, wake: store.keys.wakeChannel(), claimMemoryMs: 60_000, keepPayload: false, depth: 0,
        requestToken: 'one-command-enqueue.', claim: { max: 3, leaseMs: 60_000 },
      },
    );
    const { claimed } = parseEnqueueReply(await scripts.runBuffer('enqueue', keys, args), ids, 'one-command-enqueue.');
    // its one command's ack closes the lease without a count: a second one under it would be left unleased
    expect(claimed).toHaveLength(1);
    expect(await client.hget(`${store.keys.shardPrefix(0)}claim:one-command-enqueue.`, 'left')).toBeNull();
    expect(await queue.claim({ max: 10, leaseMs: 60_000 })).toHaveLength(2);
  });

  it('closes a one-command claim at its ack and remembers it for a re-sent claim', async () => {
    await queue.enqueueBatch([cmd('single-a'), cmd('single-b')]);
    const leases = `${store.keys.shardPrefix(0)}leases`;
    const claimKey = `${store.keys.shardPrefix(0)}claim:one-command-token`;
    const [only] = await store.claimShard(0, 1, 60_000, 'one-command-token');
    expect(await client.zscore(leases, 'one-command-token')).not.toBeNull();
    expect(await client.hget(claimKey, 'ids')).toBe(only!.id);
    expect(await client.hget(claimKey, 'left')).toBeNull(); // a batch of one: the ack closes it without a count
    expect(await client.pttl(claimKey)).toBe(-1);
    const [acked] = await queue.ack([{ id: only!.id, leaseToken: only!.leaseToken, outcome: 'ok' }]);
    expect(acked!.ok).toBe(true);
    expect(await client.zscore(leases, 'one-command-token')).toBeNull();
    expect(await client.pttl(claimKey)).toBeGreaterThan(0);
    // re-sent after its ack, the claim takes nothing although a command is waiting
    expect(await store.claimShard(0, 1, 60_000, 'one-command-token')).toEqual([]);
    expect(await queue.claim({ max: 1, leaseMs: 60_000 })).toHaveLength(1);
  });

  it('writes the same finished record for an ack whatever the lease token, with or without the payload kept', async () => {
    // a claim token of 16 characters (the store's) and one of 5 (a caller's own): the ack builds
    // the finished form of each its own way, and both must read the same
    const finishedPair = async (q: ValidatedQueue<RedisQueueV3>, s: RedisQueueV3, outcome: 'ok' | 'rejected') => {
      const deliverAt = Date.now() - 1_000; // one instant for both, so the records can match
      const input = (phyId: string) => cmd(phyId, { deliverAt, traceContext: 'trace-1', priority: 7, payload: Buffer.from('same payload') });
      const [a, b] = (await q.enqueueBatch([input(`pair-a-${outcome}`), input(`pair-b-${outcome}`)])) as Array<{ id: string }>;
      const long = await s.claimShard(0, 1, 60_000, 'sixteen-chars-16');
      const short = await s.claimShard(0, 1, 60_000, 'short');
      expect([...long, ...short].map((c) => c.id).sort()).toEqual([a!.id, b!.id].sort());
      const clock = jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 1_000);
      try {
        const acks = [...long, ...short].map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome, result: Buffer.from('the result'), replica: 'ingress-0' }));
        expect((await q.ack(acks)).map((r) => r.ok)).toEqual([true, true]);
        // re-sent by the same holders: answered as before, nothing written again
        expect((await q.ack(acks)).map((r) => r.ok && r.status)).toEqual([outcome === 'ok' ? 'acked' : 'rejected', outcome === 'ok' ? 'acked' : 'rejected']);
      } finally {
        clock.mockRestore();
      }
      const [fromLong, fromShort] = await Promise.all(
        [long[0]!, short[0]!].map(async (c) => {
          const { bucket, field } = s.keys.finished(c.id)!;
          const raw = (await client.hgetBuffer(bucket, field))!;
          const { phyId, createdAt, expiresAt, ttlMs, eventIds, ...rest } = parseRecord(raw);
          expect(phyId).toBe(c.phyId);
          expect(eventIds).toHaveLength(outcome === 'ok' ? 2 : 3); // queued, then acked (or delivered and rejected)
          expect(expiresAt - createdAt).toBe(ttlMs);
          return { rest, length: raw.length };
        }),
      );
      expect(fromShort!.rest).toEqual(fromLong!.rest);
      expect(fromShort!.length).toBe(fromLong!.length + 'short'.length - 8); // the done token: its first 8 characters
      return fromLong!.rest;
    };
    expect(await finishedPair(queue, store, 'ok')).toMatchObject({ status: 'acked', attempts: 1, payloadDropped: true, payload: Buffer.alloc(0), lastError: null, result: Buffer.from('the result'), traceContext: 'trace-1', priority: 7 });
    const keepingStore = new RedisQueueV3(client, { prefix: `${prefix}-keep`, shards: 1, keepFinishedPayload: true });
    const keeping = new ValidatedQueue(keepingStore);
    expect(await finishedPair(keeping, keepingStore, 'rejected')).toMatchObject({
      status: 'rejected',
      payloadDropped: false,
      payload: Buffer.from('same payload'),
      lastError: 'rejected by the device',
      result: Buffer.from('the result'),
    });
    await keeping.close();
  });

  it('claims and acks more devices in one call than one write of device states takes', async () => {
    const devices = 1_100;
    await queue.enqueueBatch(Array.from({ length: devices }, (_, i) => cmd(`many-${i}`)));
    await queue.enqueueBatch(Array.from({ length: devices }, (_, i) => cmd(`many-${i}`)));
    const claimed = await store.claimShard(0, devices, 60_000);
    expect(claimed).toHaveLength(devices);
    expect(new Set(claimed.map((c) => c.phyId)).size).toBe(devices);
    expect(await client.hlen(`${store.keys.shardPrefix(0)}dev`)).toBe(devices);
    expect((await queue.stats()).total).toMatchObject({ inflight: devices, pending: devices });
    // every device still holds its claimed command: a second claim finds none of them ready
    expect(await store.claimShard(0, devices, 60_000)).toEqual([]);
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.filter((a) => a.ok)).toHaveLength(devices);
    const next = await store.claimShard(0, devices, 60_000);
    expect(next).toHaveLength(devices);
    expect((await queue.ack(next.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })))).filter((a) => a.ok)).toHaveLength(devices);
    expect(await client.hlen(`${store.keys.shardPrefix(0)}dev`)).toBe(0); // every state gone with its device's last command
    expect((await queue.stats()).total).toMatchObject({ inflight: 0, pending: 0 });
  });

  it('stamps times from the Redis clock (TIME)', async () => {
    const toMs = ([s, us]: [string, string]) => Number(s) * 1000 + Math.floor(Number(us) / 1000);
    const before = toMs((await client.time()) as unknown as [string, string]);
    const { id } = await queue.enqueue(cmd('clock'));
    const after = toMs((await client.time()) as unknown as [string, string]);
    const stored = await queue.get(id);
    expect(stored!.createdAt).toBeGreaterThanOrEqual(before);
    expect(stored!.createdAt).toBeLessThanOrEqual(after);
  });

  it('stamps an acked command with the acking process\'s clock, never earlier than its claim', async () => {
    await queue.enqueueBatch([cmd('ack-clock-0'), cmd('ack-clock-1')]);
    const claimed = await queue.claim({ max: 2, leaseMs: 60_000 });
    expect(claimed).toHaveLength(2);
    // in flight, a command's updatedAt is its claim's time (Redis' clock)
    const claimedAt = await Promise.all(claimed.map(async (c) => (await queue.get(c.id))!.updatedAt));
    const ahead = Date.now() + 600_000;
    const clock = jest.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(ahead);
      expect((await queue.ack([{ id: claimed[0]!.id, leaseToken: claimed[0]!.leaseToken, outcome: 'ok' }]))[0]!.ok).toBe(true);
      clock.mockReturnValue(claimedAt[1]! - 600_000); // a clock behind Redis'
      expect((await queue.ack([{ id: claimed[1]!.id, leaseToken: claimed[1]!.leaseToken, outcome: 'ok' }]))[0]!.ok).toBe(true);
    } finally {
      clock.mockRestore();
    }
    expect(await queue.get(claimed[0]!.id)).toMatchObject({ status: 'acked', updatedAt: ahead });
    expect(await queue.get(claimed[1]!.id)).toMatchObject({ status: 'acked', updatedAt: claimedAt[1] });
  });

  it('registers each script under a v3 name, with the v2 scripts\' #!lua flags', () => {
    expect(commandNameV3('claim')).toMatch(/^outbound_l3v\d+_claim$/);
    for (const name of Object.keys(V3_SCRIPTS) as Array<keyof typeof V3_SCRIPTS>) {
      expect(typeof (client as unknown as Record<string, unknown>)[commandNameV3(name)]).toBe('function');
      const flags = V3_SCRIPT_FLAGS[name];
      expect(loadScriptV3(name).split('\n')[0]).toBe(flags ? `#!lua flags=${flags}` : '#!lua');
    }
    expect(V3_SCRIPT_FLAGS.enqueue).toBe('');
    expect(V3_SCRIPT_FLAGS.get).toBe('no-writes');
  });

  it('gives each script only the shared helpers it calls, and those they call', () => {
    const get = loadScriptV3('get');
    expect(get).toContain('local function findRecord(');
    expect(get).toContain('local function bucketOf('); // called by findRecord, not by get itself
    expect(get).not.toContain('local function promoteDue(');
    expect(get).not.toContain('local function finishRecord(');
    expect(loadScriptV3('claim')).toContain('local function promoteDue(');
  });
});
