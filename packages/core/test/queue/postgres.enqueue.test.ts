import { OutboundError, type EnqueueResult } from '@outbound/core';
import { PgQueueFixture, input } from './postgres-helpers';

/**
 * enqueue_commands() (migration 0006) decides a whole batch in one statement; these check that it
 * answers each command as if the batch had been decided one command at a time, in order.
 */
const fx = new PgQueueFixture('pg-enqueue');
beforeAll(() => fx.setup());
afterAll(() => fx.teardown());

type Answer = EnqueueResult | OutboundError;
const summary = (answer: Answer): string =>
  answer instanceof OutboundError ? `${answer.code}:${(answer.details as { scope?: string } | undefined)?.scope ?? ''}` : answer.duplicate ? 'duplicate' : answer.status;

describe('PostgreSQL enqueue of a batch', () => {
  it('decides repeats of a new key, the per-device cap and the global cap in batch order', async () => {
    const q = await fx.queue({ perDeviceCap: 2, globalCap: 4 });
    const same = Buffer.from('same');
    const answers = await q.enqueueBatch([
      input('A', { idempotencyKey: 'k1', payload: same }), // 0 queued
      input('A', { idempotencyKey: 'k1', payload: same }), // 1 repeats 0
      input('A', { idempotencyKey: 'k2', payload: Buffer.from('x') }), // 2 queued: A holds 2
      input('A', { idempotencyKey: 'k2', payload: Buffer.from('y') }), // 3 the key of 2 with another payload
      input('A'), // 4 A is full
      input('B'), // 5 queued: 3 in all
      input('C'), // 6 queued: 4 in all
      input('D'), // 7 the queue is full
      input('A'), // 8 A is full (met before the global cap)
      input('B', { idempotencyKey: 'k3' }), // 9 the queue is full
      input('B', { idempotencyKey: 'k3' }), // 10 answers as 9
    ]);
    expect(answers.map(summary)).toEqual([
      'queued', 'duplicate', 'queued', 'IDEMPOTENCY_CONFLICT:', 'QUEUE_FULL:device', 'queued', 'queued',
      'QUEUE_FULL:global', 'QUEUE_FULL:device', 'QUEUE_FULL:global', 'QUEUE_FULL:global',
    ]);
    const ids = answers.map((a) => (a instanceof OutboundError ? null : a.id));
    expect(ids[1]).toBe(ids[0]);
    expect((answers[3] as OutboundError).message).toContain(ids[2]!);
    expect(await Promise.all(['A', 'B', 'C', 'D'].map((d) => q.countDevice(d)))).toEqual([2, 1, 1, 0]);
    expect((await q.stats()).total.pending).toBe(4);
  });

  it('runs one enqueue statement at a time: calls made while one runs share the next transaction, each answered alone', async () => {
    const q = await fx.queue({ perDeviceCap: 2 });
    const same = Buffer.from('same');
    // The first call goes at once; the three made while it runs go together afterwards, decided in call order.
    const calls = [
      q.enqueueBatch([input('S1'), input('S2')]),
      q.enqueueBatch([input('S1', { idempotencyKey: 'k', payload: same }), input('S3')]),
      q.enqueueBatch([input('S1', { idempotencyKey: 'k', payload: same }), input('S1')]), // repeats the key; S1 is full
      q.enqueueBatch([input('S3')]),
    ];
    const answers = await Promise.all(calls);
    expect(answers.map((call) => call.map(summary))).toEqual([
      ['queued', 'queued'],
      ['queued', 'queued'],
      ['duplicate', 'QUEUE_FULL:device'],
      ['queued'],
    ]);
    const id = (answer: Answer): string => (answer as EnqueueResult).id;
    expect(id(answers[2]![0]!)).toBe(id(answers[1]![0]!));
    const { rows } = await fx.pool.query<{ command_id: string; xid: string }>(
      `SELECT command_id, xid::text AS xid FROM "${q.store.schema}".events WHERE type = 'command.queued'`,
    );
    const xidOf = new Map(rows.map((r) => [r.command_id, r.xid]));
    const xids = [answers[0]![0]!, answers[1]![0]!, answers[1]![1]!, answers[3]![0]!].map((a) => xidOf.get(id(a)));
    expect(xids[0]).toBeDefined();
    expect(xids[1]).not.toBe(xids[0]);
    expect(new Set(xids.slice(1)).size).toBe(1);
  });

  it('answers a repeated call with the same ids from the stored commands and stores nothing twice', async () => {
    const q = await fx.queue();
    const items = Array.from({ length: 6 }, (_, i) => ({ ...input(`R${i % 2}`), id: q.store.newCommandId(`R${i % 2}`), fingerprint: `f${i}` }));
    const first = await q.store.enqueueBatch(items);
    const again = await q.store.enqueueBatch(items);
    expect(again).toEqual(first);
    expect(first.map(summary)).toEqual(Array(6).fill('queued'));
    expect((first as EnqueueResult[]).map((r) => r.id)).toEqual(items.map((x) => x.id));
    expect((await q.stats()).total.pending).toBe(6);
    // The devices' counters moved once: every command is claimed exactly once, then nothing is left.
    const claimed = await q.claim({ max: 10, leaseMs: 30_000 });
    await q.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    const rest = [];
    for (let batch = await q.claim({ max: 10, leaseMs: 30_000 }); batch.length > 0; batch = await q.claim({ max: 10, leaseMs: 30_000 })) {
      rest.push(...batch);
      await q.ack(batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    }
    expect(new Set([...claimed, ...rest].map((c) => c.id)).size).toBe(6);
    expect([...claimed, ...rest]).toHaveLength(6);
  });

  it('locks a device row without writing it: a refused command leaves the row as it was', async () => {
    const q = await fx.queue({ perDeviceCap: 1 });
    await q.enqueue(input('L'));
    const version = `SELECT ctid::text, xmin::text FROM "${q.store.schema}".devices WHERE phy_id = 'L'`;
    const before = (await fx.pool.query(version)).rows[0];
    const [refused] = await q.enqueueBatch([input('L')]);
    expect(summary(refused!)).toBe('QUEUE_FULL:device');
    expect((await fx.pool.query(version)).rows[0]).toEqual(before);
  });
});
