import { isOutboundError, OutboundError } from '@outbound/core';
import { waitFor } from '@outbound/test-support';
import { PgQueueFixture, input, planNodes } from './postgres-helpers';

const fx = new PgQueueFixture('pg-transitions');
beforeAll(() => fx.setup());
afterAll(() => fx.teardown());

const lease = { max: 10, leaseMs: 30_000 };

describe('PostgreSQL queue transitions', () => {
  it('retries with backoff at the head of the device line, then dead-letters with the reason', async () => {
    // 500 ms: the claim right after the fail must come before the wait ends, even on a loaded host.
    const q = await fx.queue({ backoff: { baseMs: 500, maxMs: 500, jitter: 0 } });
    const first = await q.enqueue(input('retry', { maxAttempts: 2 }));
    const second = await q.enqueue(input('retry', { priority: 9 }));
    const [c1] = await q.claim(lease);
    expect(c1!.id).toBe(second.id); // priority 9 first
    await q.ack([{ id: c1!.id, leaseToken: c1!.leaseToken, outcome: 'ok' }]);

    const [a1] = await q.claim(lease);
    expect(a1).toMatchObject({ id: first.id, attempts: 1 });
    const third = await q.enqueue(input('retry'));
    expect(await q.fail([{ id: a1!.id, leaseToken: a1!.leaseToken, error: 'busy', retryable: true }])).toEqual([
      { id: first.id, ok: true, status: 'queued' },
    ]);
    // The device waits for the retry: its later command is not handed out meanwhile.
    expect(await q.claim(lease)).toEqual([]);
    expect(await q.get(first.id)).toMatchObject({ status: 'queued', waitingFor: 'backoff', lastError: 'busy' });
    const a2 = await waitFor(async () => (await q.claim(lease))[0], { what: 'retry due', timeoutMs: 5_000 });
    expect(a2).toMatchObject({ id: first.id, attempts: 2 });
    expect(await q.fail([{ id: a2.id, leaseToken: a2.leaseToken, error: 'still busy', retryable: true }])).toEqual([
      { id: first.id, ok: true, status: 'dead' },
    ]);
    expect((await q.listDead()).items.map((c) => [c.id, c.lastError])).toEqual([[first.id, 'still busy']]);
    const [next] = await q.claim(lease);
    expect(next!.id).toBe(third.id);
  });

  it('refuses a stale token after the lease expired and the reaper took the command back', async () => {
    const q = await fx.queue();
    const { id } = await q.enqueue(input('lease'));
    const [old] = await q.claim({ max: 1, leaseMs: 50 });
    await waitFor(async () => (await q.reclaimExpired()) === 1, { what: 'lease expiry' });
    const [fresh] = await q.claim(lease);
    expect(fresh).toMatchObject({ id, attempts: 2 });
    const [late] = await q.ack([{ id, leaseToken: old!.leaseToken, outcome: 'ok' }]);
    expect(late!.ok).toBe(false);
    expect(!late!.ok && late!.error.code).toBe('LEASE_LOST');
    expect(await q.ack([{ id, leaseToken: fresh!.leaseToken, outcome: 'ok' }])).toEqual([{ id, ok: true, status: 'acked' }]);
    // The same ack repeated (an answer lost on the way) is answered as before.
    expect(await q.ack([{ id, leaseToken: fresh!.leaseToken, outcome: 'ok' }])).toEqual([{ id, ok: true, status: 'acked' }]);
    const [unknown] = await q.ack([{ id: '00000000-0000-4000-8000-000000000000', leaseToken: fresh!.leaseToken, outcome: 'ok' }]);
    expect(!unknown!.ok && unknown!.error.code).toBe('COMMAND_NOT_FOUND');
  });

  it('answers a late outcome of an earlier holder LEASE_LOST next to its holder\'s in one call', async () => {
    // The dispatcher records the outcomes of one turn in one call: a delivery whose lease expired
    // and the delivery of the command claimed again can land in the same batch.
    const q = await fx.queue();
    const { id } = await q.enqueue(input('late'));
    const [old] = await q.claim({ max: 1, leaseMs: 50 });
    await waitFor(async () => (await q.reclaimExpired()) === 1, { what: 'lease expiry' });
    const [fresh] = await q.claim(lease);
    const results = await q.ack([
      { id, leaseToken: old!.leaseToken, outcome: 'rejected' },
      { id, leaseToken: fresh!.leaseToken, outcome: 'ok' },
    ]);
    expect(results[1]).toEqual({ id, ok: true, status: 'acked' });
    expect(!results[0]!.ok && results[0]!.error.code).toBe('LEASE_LOST');
    expect(await q.get(id)).toMatchObject({ status: 'acked' });
  });

  it('answers the first id for a repeated idempotency key and QUEUE_FULL at the caps, changing nothing', async () => {
    const q = await fx.queue({ perDeviceCap: 2, globalCap: 3 });
    const keyed = input('capped', { idempotencyKey: 'k1' });
    const a = await q.enqueue(keyed);
    expect(await q.enqueue({ ...keyed })).toEqual({ id: a.id, status: 'queued', duplicate: true });
    await q.enqueue(input('capped'));
    const full = await q.enqueue(input('capped')).catch((e: unknown) => e);
    expect(isOutboundError(full, 'QUEUE_FULL')).toBe(true);
    await q.enqueue(input('other'));
    const globalFull = await q.enqueueBatch([input('third'), input('third')]);
    expect(globalFull.map((r) => (r instanceof OutboundError ? r.code : r.status))).toEqual(['QUEUE_FULL', 'QUEUE_FULL']);
    expect(await q.countDevice('capped')).toBe(2);
    expect(await q.countDevice('third')).toBe(0);
    expect((await q.stats()).total.pending).toBe(3);
  });

  it('expires queued commands whose TTL passed and never hands them out', async () => {
    const q = await fx.queue();
    const { id } = await q.enqueue(input('ttl', { ttlMs: 30 }));
    await waitFor(async () => (await q.expireDue()) === 1, { what: 'ttl expiry' });
    expect(await q.get(id)).toMatchObject({ status: 'expired' });
    expect(await q.claim(lease)).toEqual([]);
  });

  it('parks an offline device without spending attempts and resumes it when online', async () => {
    const q = await fx.queue();
    const { id } = await q.enqueue(input('parked'));
    const [c] = await q.claim(lease);
    expect(await q.release([{ id, leaseToken: c!.leaseToken, deviceOffline: true, reason: 'not connected' }])).toEqual([
      { id, ok: true, status: 'queued' },
    ]);
    expect(await q.get(id)).toMatchObject({ attempts: 0, waitingFor: 'device' });
    expect(await q.claim(lease)).toEqual([]);
    expect((await q.listParkedDevices()).phyIds).toEqual(['parked']);
    const woke = q.waitForWork(10_000);
    await q.markDeviceOnline('parked');
    await woke;
    const [again] = await q.claim(lease);
    expect(again).toMatchObject({ id, attempts: 1 });
  });

  it('wakes a waiting claimer within milliseconds of an enqueue', async () => {
    const q = await fx.queue();
    await q.claim(lease); // starts LISTEN
    const started = Date.now();
    // The fallback timeout is far longer than the bound: a wait that ran it out fails, a loaded host does not.
    const waiting = q.waitForWork(30_000);
    await q.enqueue(input('wake'));
    await waiting;
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("wakes another process's claimer by the NOTIFY sent after the enqueue's commit", async () => {
    const producer = await fx.queue();
    const claimer = await fx.queue({ prefix: producer.store.schema }); // its own listener, as a second dispatcher has
    await claimer.claim(lease); // starts LISTEN
    const started = Date.now();
    const waiting = claimer.waitForWork(30_000);
    const { id } = await producer.enqueue(input('wake-elsewhere'));
    await waiting;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await claimer.claim(lease)).map((c) => c.id)).toEqual([id]);
  });

  it('ends a wait when a scheduled command comes due, with no NOTIFY for it', async () => {
    const producer = await fx.queue();
    const claimer = await fx.queue({ prefix: producer.store.schema }); // another process: none of the producer's own signals
    await claimer.claim(lease); // starts LISTEN
    const { id } = await producer.enqueue(input('due-soon', { deliverAt: Date.now() + 1_000 }));
    const started = Date.now();
    // the fallback timeout is far longer than the bound: only the timer armed from the due time ends it in time
    await claimer.waitForWork(50_000);
    expect(Date.now() - started).toBeLessThan(25_000);
    await waitFor(async () => (await claimer.claim(lease)).some((c) => c.id === id), { what: 'the scheduled command claimed' });
  });

  it('reads when the next scheduled command is due through the waiting-commands index, with its plan built on an empty, analyzed table', async () => {
    await fx.oneConnection('pg-next-due', {}, async (q, client, prefix) => {
      const nextDue = `SELECT "${prefix}".next_due_ms() AS ms`;
      await client.query(`ANALYZE "${prefix}".commands`); // 0 pages: a table scan looks cheapest
      // the pool's one connection plans the function's statement now, and keeps that plan
      expect((await client.query<{ ms: number | null }>(nextDue)).rows[0]!.ms).toBeNull();
      await q.enqueueBatch(Array.from({ length: 200 }, (_, i) => input(`due-now-${i % 20}`)));
      await q.enqueue(input('due-later', { deliverAt: Date.now() + 60_000 }));
      const db = await client.connect();
      try {
        // scans of the table itself (sequential) and of the index this connection made and has not
        // reported yet: read around the call in one transaction, so none are reported in between
        const scans = async (): Promise<{ table: number; index: number }> =>
          (
            await db.query<{ table: number; index: number }>(
              `SELECT pg_stat_get_xact_numscans('"${prefix}".commands'::regclass)::int AS table,
                      pg_stat_get_xact_numscans('"${prefix}".commands_waiting'::regclass)::int AS index`,
            )
          ).rows[0]!;
        await db.query('BEGIN');
        const before = await scans();
        const { rows } = await db.query<{ ms: number | null }>(nextDue);
        const after = await scans();
        await db.query('COMMIT');
        expect(rows[0]!.ms).toBeGreaterThan(30_000);
        expect(rows[0]!.ms).toBeLessThanOrEqual(60_000);
        expect({ table: after.table - before.table, index: after.index - before.index }).toEqual({ table: 0, index: 1 });
      } finally {
        db.release();
      }
    });
  });

  it('runs one ack statement at a time: calls made while one runs share the next transaction, each answered alone', async () => {
    const q = await fx.queue({ maxInFlightPerDevice: 2 });
    await q.enqueueBatch(['T1', 'T2', 'T3', 'T4', 'T4'].map((d) => input(d)));
    const claimed = await q.claim(lease);
    expect(claimed).toHaveLength(5);
    const [c1, c2, c3, c4, c5] = claimed.sort((a, b) => a.phyId.localeCompare(b.phyId) || a.id.localeCompare(b.id));
    const ok = (c: typeof c1, outcome: 'ok' | 'rejected' = 'ok') => ({ id: c!.id, leaseToken: c!.leaseToken, outcome });
    // The first call goes at once; the three made while it runs go together afterwards. The same
    // command acked twice in the shared statement is answered alike for both; a token that holds
    // no lease is refused there as alone.
    const stale = { id: c4!.id, leaseToken: '00000000-0000-4000-8000-000000000000', outcome: 'ok' as const };
    const answers = await Promise.all([
      q.ack([ok(c1)]),
      q.ack([ok(c2), ok(c3, 'rejected')]),
      q.ack([ok(c3, 'rejected'), stale]),
      q.ack([ok(c4), ok(c5)]),
    ]);
    const summary = (r: { ok: boolean; status?: string; error?: OutboundError }): string => (r.ok ? r.status! : r.error!.code);
    expect(answers.map((call) => call.map((r) => summary(r as never)))).toEqual([
      ['acked'],
      ['acked', 'rejected'],
      ['rejected', 'LEASE_LOST'],
      ['acked', 'acked'],
    ]);
    const { rows } = await fx.pool.query<{ command_id: string; xid: string; type: string }>(
      `SELECT command_id, xid::text AS xid, type::text AS type FROM "${q.store.schema}".events WHERE type IN ('command.acked', 'command.rejected')`,
    );
    expect(rows).toHaveLength(5); // one outcome event per command, the repeated reject included
    const xidOf = new Map(rows.map((r) => [r.command_id, r.xid]));
    const xids = [c1, c2, c3, c4, c5].map((c) => xidOf.get(c!.id));
    expect(xids[0]).toBeDefined();
    expect(xids[1]).not.toBe(xids[0]);
    expect(new Set(xids.slice(1)).size).toBe(1);
    expect((await q.stats()).total.inflight).toBe(0);
    // every device is free again: its next command can be claimed
    await q.enqueueBatch(['T1', 'T4'].map((d) => input(d)));
    expect(await q.claim(lease)).toHaveLength(2);
  });

  it('cancels only queued commands; replays and purges dead letters', async () => {
    const q = await fx.queue();
    const { id } = await q.enqueue(input('cancel'));
    expect(await q.cancel(id)).toMatchObject({ status: 'cancelled' });
    expect(isOutboundError(await q.cancel(id).catch((e: unknown) => e), 'INVALID_STATE')).toBe(true);
    const dead = await q.enqueue(input('dl', { maxAttempts: 1 }));
    const [c] = await q.claim(lease);
    await q.fail([{ id: c!.id, leaseToken: c!.leaseToken, error: 'boom', retryable: true }]);
    expect((await q.stats()).total.dead).toBe(1);
    expect(await q.replayDead({ ids: [dead.id] })).toBe(1);
    expect(await q.get(dead.id)).toMatchObject({ status: 'queued', attempts: 0 });
    const [c2] = await q.claim(lease);
    await q.fail([{ id: c2!.id, leaseToken: c2!.leaseToken, error: 'boom', retryable: true }]);
    expect(await q.purgeDead({ all: true })).toBe(1);
    expect(await q.get(dead.id)).toBeNull();
  });

  it('keeps the prepared ack, fail and release free of scans over every command or device when their generic plans were built on an empty queue', async () => {
    // One connection, so the statements below and the catalog reads share a session. The
    // plans are built while the tables are empty (a dispatcher's first outcomes after start-up);
    // joined on id, an ack's plan hash-joined the whole commands table on every call.
    const nobody = { id: '00000000-0000-4000-8000-000000000000', leaseToken: '00000000-0000-4000-8000-000000000001' };
    await fx.oneConnection('pg-outcome-plan', { backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 0 } }, async (q, client) => {
      for (let i = 0; i < 8; i++) {
        await q.ack([{ ...nobody, outcome: 'ok', replica: 'r1' }]);
        await q.fail([{ ...nobody, error: 'x', retryable: true, replica: 'r1' }]);
        await q.release([{ ...nobody }]);
      }
      await q.enqueueBatch(Array.from({ length: 300 }, (_, i) => input(`outcome-plan-${i % 100}`)));
      const claimed = await q.claim({ max: 90, leaseMs: 30_000 });
      expect(claimed).toHaveLength(90);
      const [acks, fails, releases] = [claimed.slice(0, 30), claimed.slice(30, 60), claimed.slice(60)];
      expect((await q.ack(acks.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'r1' })))).every((r) => r.ok)).toBe(true);
      expect((await q.fail(fails.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: 'busy', retryable: true })))).every((r) => r.ok)).toBe(true);
      expect((await q.release(releases.map((c) => ({ id: c.id, leaseToken: c.leaseToken })))).every((r) => r.ok)).toBe(true);
      expect(await q.get(acks[0]!.id)).toMatchObject({ status: 'acked' });
      expect(await q.get(fails[0]!.id)).toMatchObject({ status: 'queued', lastError: 'busy' });
      expect(await q.get(releases[0]!.id)).toMatchObject({ status: 'queued' });

      const { rows } = await client.query<{ name: string; parameter_types: string[]; custom_plans: string }>(
        `SELECT name, parameter_types::text[] AS parameter_types, custom_plans FROM pg_prepared_statements WHERE name ~ '^outbound_(ack|fail|release)_'`,
      );
      expect(rows.map((r) => r.name.split('_')[1]).sort()).toEqual(['ack', 'fail', 'release']);
      // planned for their own arguments five times at most, then generic: a batch of one does not look cheaper planned for itself
      expect(rows.map((r) => Number(r.custom_plans)).every((n) => n <= 5)).toBe(true);
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const { name, parameter_types } of rows) {
        const args = parameter_types.map((type) => (type.endsWith('[]') ? `'{}'::${type}` : `NULL::${type}`));
        const nodes = await planNodes(client, `EXECUTE ${name}(${args.join(', ')})`);
        const scans = nodes.filter((n) => ['Seq Scan', 'Bitmap Heap Scan'].includes(n['Node Type'] as string) && ['commands', 'devices'].includes(n['Relation Name'] as string));
        expect({ name, scans }).toEqual({ name, scans: [] });
        expect(nodes.some((n) => n['Node Type'] === 'Tid Scan' && n['Relation Name'] === 'commands')).toBe(true);
      }
    });
  });
});
