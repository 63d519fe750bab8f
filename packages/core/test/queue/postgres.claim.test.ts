import { Pool } from 'pg';
import { PostgresQueue, runMigrations, ValidatedQueue } from '@outbound/core';
import { uniquePrefix } from '@outbound/test-support';
import { PgQueueFixture, input } from './postgres-helpers';

const fx = new PgQueueFixture('pg-claim');
beforeAll(() => fx.setup());
afterAll(() => fx.teardown());

describe('PostgreSQL claim', () => {
  it('hands out priority 9..0, FIFO within a priority, at current timestamps', async () => {
    const q = await fx.queue();
    const expected: string[] = [];
    const byPriority: string[][] = Array.from({ length: 10 }, () => []);
    // Interleave priorities so insertion order differs from the expected order.
    for (let round = 0; round < 3; round++) {
      for (let p = 0; p <= 9; p++) {
        const { id } = await q.enqueue(input(`dev-${p}-${round}`, { priority: p }));
        byPriority[p]!.push(id);
      }
    }
    for (let p = 9; p >= 0; p--) expected.push(...byPriority[p]!);
    const got: string[] = [];
    for (;;) {
      const batch = await q.claim({ max: 7, leaseMs: 30_000 });
      if (batch.length === 0) break;
      got.push(...batch.map((c) => c.id));
    }
    expect(got).toEqual(expected);
  });

  it('keeps one device to maxInFlightPerDevice and its own order', async () => {
    const q = await fx.queue({ maxInFlightPerDevice: 1 });
    const a = [];
    for (let i = 0; i < 5; i++) a.push((await q.enqueue(input('solo', { priority: i === 3 ? 8 : 5 }))).id);
    const first = await q.claim({ max: 10, leaseMs: 30_000 });
    expect(first.map((c) => c.id)).toEqual([a[3]]);
    expect(await q.claim({ max: 10, leaseMs: 30_000 })).toEqual([]);
    await q.ack([{ id: first[0]!.id, leaseToken: first[0]!.leaseToken, outcome: 'ok' }]);
    const second = await q.claim({ max: 10, leaseMs: 30_000 });
    expect(second.map((c) => c.id)).toEqual([a[0]]);
  });

  it('lets maxInFlightPerDevice=3 hand out three of one device at once, in order', async () => {
    const q = await fx.queue({ maxInFlightPerDevice: 3 });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await q.enqueue(input('triple'))).id);
    const got = await q.claim({ max: 10, leaseMs: 30_000 });
    expect(got.map((c) => c.id)).toEqual(ids.slice(0, 3));
  });

  it('claims each command exactly once with 4 claimers racing over 2,000 commands on 200 devices', async () => {
    const q = await fx.queue();
    const all = await q.enqueueBatch(Array.from({ length: 2_000 }, (_, i) => input(`race-${i % 200}`)));
    expect(all.every((r) => !(r instanceof Error))).toBe(true);
    const seen = new Map<string, number>();
    let maxConcurrentPerDevice = 0;
    const inflightPerDevice = async (): Promise<number> => {
      const { rows } = await fx.pool.query<{ n: number | null }>(
        `SELECT max(n)::int AS n FROM (SELECT count(*) AS n FROM "${q.store.schema}".commands WHERE status = 'inflight' GROUP BY phy_id) x`,
      );
      return rows[0]?.n ?? 0;
    };
    const claimer = async (): Promise<void> => {
      for (let idle = 0; idle < 3; ) {
        const batch = await q.claim({ max: 16, leaseMs: 60_000 });
        if (batch.length === 0) {
          idle++;
          continue;
        }
        idle = 0;
        for (const c of batch) seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
        expect(new Set(batch.map((c) => c.phyId)).size).toBe(batch.length);
        // The database itself must never hold two in-flight commands of one device.
        maxConcurrentPerDevice = Math.max(maxConcurrentPerDevice, await inflightPerDevice());
        const results = await q.ack(batch.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
        expect(results.every((r) => r.ok)).toBe(true);
      }
    };
    await Promise.all([claimer(), claimer(), claimer(), claimer()]);
    expect(seen.size).toBe(2_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(maxConcurrentPerDevice).toBe(1);
    expect((await q.stats()).total).toEqual({ pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 });
  });

  it('does not let a device with a big backlog starve another device', async () => {
    const q = await fx.queue();
    await q.enqueueBatch(Array.from({ length: 1_000 }, () => input('hog')));
    const { id } = await q.enqueue(input('quiet'));
    const batch = await q.claim({ max: 2, leaseMs: 30_000 });
    expect(batch.map((c) => c.phyId).sort()).toEqual(['hog', 'quiet']);
    expect(batch.some((c) => c.id === id)).toBe(true);
  });

  it('plans each claim with its own values, never with a generic plan cached while the queue was empty', async () => {
    // One connection, so every claim and the catalog read below share a session. A dispatcher
    // polls an empty queue at start-up; a named (prepared) claim would then get a generic plan
    // built on empty, never-analyzed tables and keep it: ~5 s per claim at 10,000 queued.
    const single = new Pool({ ...fx.pool.options, max: 1 });
    const prefix = uniquePrefix('pg-claim-plan').replace(/-/g, '_');
    const q = new ValidatedQueue(new PostgresQueue(single, { prefix }));
    try {
      await runMigrations(single, { schema: prefix });
      for (let i = 0; i < 8; i++) expect(await q.claim({ max: 50, leaseMs: 30_000 })).toEqual([]);
      await q.enqueueBatch(Array.from({ length: 300 }, (_, i) => input(`plan-${i % 100}`)));
      expect(await q.claim({ max: 50, leaseMs: 30_000 })).toHaveLength(50);
      const { rows } = await single.query<{ name: string; generic_plans: string }>(
        `SELECT name, generic_plans FROM pg_prepared_statements WHERE statement LIKE '%claim: hands out%' AND generic_plans > 0`,
      );
      expect(rows).toEqual([]);
    } finally {
      await q.close();
      await single.end();
    }
  });
});
