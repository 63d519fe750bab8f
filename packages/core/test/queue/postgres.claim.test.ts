import { PostgresTransfer } from '@outbound/core';
import { waitFor } from '@outbound/test-support';
import { PgQueueFixture, input, nestedPlans, planNodes } from './postgres-helpers';

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

  it('serves a device whose in-flight limit a claim filled after the devices that had work meanwhile', async () => {
    // The head hint of a device the claim filled moves behind everything enqueued so far: with one
    // in flight per device, a burst of one device alternates with the others instead of going first
    // (by the seq of its next command) every time its previous command ends.
    const q = await fx.queue({ maxInFlightPerDevice: 1 });
    const burst = (await q.enqueueBatch([input('turn-a'), input('turn-a'), input('turn-a')])) as Array<{ id: string }>;
    const b = await q.enqueue(input('turn-b'));
    const c = await q.enqueue(input('turn-c'));
    const order: string[] = [];
    for (;;) {
      const [claimed] = await q.claim({ max: 1, leaseMs: 30_000 });
      if (!claimed) break;
      order.push(claimed.id);
      await q.ack([{ id: claimed.id, leaseToken: claimed.leaseToken, outcome: 'ok' }]);
    }
    expect(order).toEqual([burst[0]!.id, b.id, c.id, burst[1]!.id, burst[2]!.id]);
  });

  it('walks no device its in-flight limit keeps busy while other devices wait', async () => {
    // Bursts: each device's commands are consecutive, so a busy device's next command is older than
    // every other device's head. Claimed from, it must not be walked (an in-flight count probe) again
    // on every claim until its command ends.
    await fx.oneConnection('pg-claim-busy', { maxInFlightPerDevice: 1 }, async (q, client) => {
      await q.enqueueBatch(Array.from({ length: 30 }, (_, i) => input(`busy-${String(Math.floor(i / 3)).padStart(2, '0')}`)));
      expect(await q.claim({ max: 5, leaseMs: 30_000 })).toHaveLength(5);
      const plans = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 5, leaseMs: 30_000 })).toHaveLength(5));
      const walked = plans.at(-1)!.filter((n) => n['Index Name'] === 'devices_with_work').map((n) => Number(n['Actual Rows']));
      // the five devices still waiting, not the five busy ones with older heads before them
      expect(walked).toEqual([5]);
    });
  });

  it('answers a claim with no device to walk without starting its statement', async () => {
    // An idle claimer's claims: nothing queued, then only a device already at its in-flight limit.
    await fx.oneConnection('pg-claim-idle', { maxInFlightPerDevice: 1 }, async (q, client) => {
      // the commands claimed, and how many times the claim's statement ran for them
      const claim = async (): Promise<{ claimed: number; statements: number }> => {
        let claimed = 0;
        const plans = await nestedPlans(client, 'WITH candidates', async () => {
          claimed = (await q.claim({ max: 5, leaseMs: 30_000 })).length;
        });
        return { claimed, statements: plans.length };
      };
      expect(await claim()).toEqual({ claimed: 0, statements: 0 });
      await q.enqueueBatch([input('idle-a'), input('idle-a')]);
      expect(await claim()).toEqual({ claimed: 1, statements: 1 });
      // idle-a is at its limit with its first command in flight: nothing to walk again
      expect(await claim()).toEqual({ claimed: 0, statements: 0 });
      expect((await q.listDevice('idle-a')).map((c) => c.status)).toEqual(['inflight', 'queued']);
    });
  });

  it('walks no device at all when every device with work is at its in-flight limit', async () => {
    // Saturation: every device has a backlog behind its one lease. A claim woken then found nothing
    // after probing the in-flight count of every one of them.
    await fx.oneConnection('pg-claim-allbusy', { maxInFlightPerDevice: 1 }, async (q, client) => {
      await q.enqueueBatch(Array.from({ length: 60 }, (_, i) => input(`allbusy-${i % 20}`)));
      expect(await q.claim({ max: 50, leaseMs: 30_000 })).toHaveLength(20);
      const plans = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 50, leaseMs: 30_000 })).toEqual([]));
      // the check before the walk finds no device to walk: the claim's statement does not even start,
      // so no in-flight count is read either
      expect(plans).toEqual([]);
    });
  });

  it('takes a device it filled out of the walk until a command of it ends: ack, fail, release, the lease reaper, removal', async () => {
    const q = await fx.queue({ maxInFlightPerDevice: 1, backoff: { baseMs: 0, maxMs: 0, jitter: 0 } });
    const busy = async (phyId: string): Promise<boolean> => {
      const { rows } = await fx.pool.query<{ busy: boolean }>(`SELECT busy FROM "${q.store.schema}".devices WHERE phy_id = $1`, [phyId]);
      return rows[0]!.busy;
    };
    const ends: Record<string, (c: { id: string; leaseToken: string }) => Promise<unknown>> = {
      ack: (c) => q.ack([{ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' }]),
      reject: (c) => q.ack([{ id: c.id, leaseToken: c.leaseToken, outcome: 'rejected' }]),
      retry: (c) => q.fail([{ id: c.id, leaseToken: c.leaseToken, error: 'x', retryable: true, retryDelayMs: 0 }]),
      fail: (c) => q.fail([{ id: c.id, leaseToken: c.leaseToken, error: 'x', retryable: false }]),
      release: (c) => q.release([{ id: c.id, leaseToken: c.leaseToken }]),
      reaper: () => waitFor(async () => (await q.store.reclaimExpired()) === 1, { what: 'the short lease to run out' }),
      // moved to another backend: the in-flight command and the device's next one are removed
      removal: async (c) => {
        const rest = await fx.pool.query<{ id: string }>(`SELECT id FROM "${q.store.schema}".commands WHERE phy_id = 'ends-removal' AND id <> $1`, [c.id]);
        expect(await new PostgresTransfer(fx.pool, q.store.schema).remove([c.id])).toBe(1);
        await q.enqueueBatch([input('ends-removal')]);
        removedNext = rest.rows[0]!.id;
      },
    };
    let removedNext = '';
    for (const [how, end] of Object.entries(ends)) {
      const phyId = `ends-${how}`;
      const ids = (await q.enqueueBatch([input(phyId), input(phyId)])).map((r) => (r as { id: string }).id);
      const [first] = await q.claim({ max: 5, leaseMs: how === 'reaper' ? 300 : 30_000 });
      expect({ how, id: first?.id }).toEqual({ how, id: ids[0] });
      expect({ how, busy: await busy(phyId) }).toEqual({ how, busy: true });
      expect(await q.claim({ max: 5, leaseMs: 30_000 })).toEqual([]);
      await end(first!);
      expect({ how, busy: await busy(phyId) }).toEqual({ how, busy: false });
      // the device's line goes on: its next command, or the one that came back first
      const next = await q.claim({ max: 5, leaseMs: 30_000 });
      expect({ how, next: next.map((c) => c.id) }).toEqual({ how, next: ['retry', 'release', 'reaper'].includes(how) ? [ids[0]] : [how === 'removal' ? removedNext : ids[1]] });
      expect(await busy(phyId)).toBe(true);
      await q.ack(next.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
      for (;;) {
        const rest = await q.claim({ max: 5, leaseMs: 30_000 });
        if (rest.length === 0) break;
        await q.ack(rest.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
      }
      expect(await busy(phyId)).toBe(false);
    }
  });

  it('leaves a device with room in the walk: two of three in flight', async () => {
    const q = await fx.queue({ maxInFlightPerDevice: 3 });
    const ids = (await q.enqueueBatch([input('room'), input('room'), input('room'), input('room')])).map((r) => (r as { id: string }).id);
    expect((await q.claim({ max: 2, leaseMs: 30_000 })).map((c) => c.id)).toEqual(ids.slice(0, 2));
    expect((await q.claim({ max: 5, leaseMs: 30_000 })).map((c) => c.id)).toEqual([ids[2]]);
    expect(await q.claim({ max: 5, leaseMs: 30_000 })).toEqual([]);
  });

  it('commits a claim without waiting for its WAL flush, unless it expired commands, and only that transaction', async () => {
    // A claim only moves stored commands into flight: a crash that undoes it leaves them queued, as
    // a lease that ran out would. A claim that expired commands logged events a reader may already
    // have passed, so its commit waits for the flush like every other write.
    await fx.oneConnection('pg-claim-commit', { maxInFlightPerDevice: 1 }, async (q, client, prefix) => {
      const ids = (await q.enqueueBatch([input('flush-a'), input('flush-b'), input('flush-c')])).map((r) => (r as { id: string }).id);
      const commitMode = async (max: number): Promise<{ claimed: number; expired: number; mode: string }> => {
        const db = await client.connect();
        try {
          await db.query('BEGIN');
          const { rows } = await db.query<{ id: string | null; expired: number }>(`SELECT id, expired FROM "${prefix}".claim_commands($1, 30000, 1)`, [max]);
          const { rows: setting } = await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
          await db.query('COMMIT');
          return { claimed: rows.filter((r) => r.id !== null).length, expired: rows[0]?.expired ?? 0, mode: setting[0]!.synchronous_commit };
        } finally {
          db.release();
        }
      };
      expect(await commitMode(1)).toEqual({ claimed: 1, expired: 0, mode: 'off' });
      const { rows: after } = await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
      expect(after[0]!.synchronous_commit).toBe('on'); // the next transaction on the connection waits again
      await client.query(`UPDATE "${prefix}".commands SET expires_at = now() - interval '1 second' WHERE id = $1`, [ids[1]]);
      expect(await commitMode(5)).toEqual({ claimed: 1, expired: 1, mode: 'on' });
      expect((await q.get(ids[1]!))?.status).toBe('expired');
    });
  });

  it('plans the claim once per connection, whatever the batch sizes', async () => {
    // A prepared claim was planned for its own arguments for five calls, then again whenever those
    // custom plans looked cheaper than the generic one (12-34 % of claims in end-to-end runs, each
    // plan costing more than a small claim). claim_commands() forces the generic plan.
    await fx.oneConnection('pg-claim-one', {}, async (q, client, prefix) => {
      await q.enqueueBatch(Array.from({ length: 40 }, (_, i) => input(`one-${i}`)));
      for (let i = 0; i < 15; i++) expect(await q.claim({ max: 1 + (i % 3), leaseMs: 30_000 })).toHaveLength(1 + (i % 3));
      const { rows } = await client.query<{ config: string[] }>(
        `SELECT p.proconfig AS config FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'claim_commands'`,
        [prefix],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.config).toContain('plan_cache_mode=force_generic_plan');
      const prepared = await client.query<{ statement: string; custom_plans: string }>(`SELECT statement, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%claim_commands%'`);
      expect(prepared.rows).toHaveLength(1); // the call itself: one statement, planned like a SELECT of a function
    });
  });

  it('looks for expired commands per device, not through every expired command, with a plan built while none had expired', async () => {
    // Parked devices' commands expire in bulk (an outage) and wait for expireDue; a plan built
    // while nothing had expired read them all through commands_expiry for every device claimed from.
    await fx.oneConnection('pg-claim-expiry', {}, async (q, client, prefix) => {
      await q.enqueueBatch(Array.from({ length: 400 }, (_, i) => input(`expiry-${i % 100}`)));
      await client.query(`ANALYZE "${prefix}".commands`);
      await client.query(`ANALYZE "${prefix}".devices`);
      for (let i = 0; i < 8; i++) expect(await q.claim({ max: 10, leaseMs: 30_000 })).toHaveLength(10);
      const plans = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 10, leaseMs: 30_000 })).toHaveLength(10));
      const nodes = plans.at(-1)!;
      expect(nodes.filter((n) => n['Index Name'] === 'commands_expiry')).toEqual([]);
      expect(nodes.some((n) => n['Index Name'] === 'commands_device_expiry')).toBe(true);
    });
  });

  it('keeps the claim free of scans over every command when its generic plan was built on an empty queue', async () => {
    // One connection, so every claim shares a session and its cached plan. A dispatcher polls an
    // empty queue at start-up, so the claim's generic plan is built on empty, never-analyzed
    // tables; joined on id, its UPDATEs then scanned every queued command per claimed row (~5 s
    // per claim at 10,000 queued). Reaching the rows by ctid keeps the plan an index walk
    // whatever statistics it was built with.
    await fx.oneConnection('pg-claim-plan', {}, async (q, client) => {
      for (let i = 0; i < 8; i++) expect(await q.claim({ max: 50, leaseMs: 30_000 })).toEqual([]);
      await q.enqueueBatch(Array.from({ length: 300 }, (_, i) => input(`plan-${i % 100}`)));
      const plans = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 50, leaseMs: 30_000 })).toHaveLength(50));
      const nodes = plans.at(-1)!;
      expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'commands')).toEqual([]);
      const updates = nodes.filter((n) => n['Node Type'] === 'ModifyTable' && n['Relation Name'] === 'commands');
      expect(updates).toHaveLength(2); // expired, claimed
      for (const update of updates) {
        const below: Array<Record<string, unknown>> = [];
        const collect = (node: Record<string, unknown>): void => {
          for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) {
            below.push(child);
            collect(child);
          }
        };
        collect(update);
        expect(below.some((n) => n['Node Type'] === 'Tid Scan' && n['Relation Name'] === 'commands')).toBe(true);
      }
      expect(await q.claim({ max: 50, leaseMs: 30_000 })).toHaveLength(50);
    });
  });
  it('counts each device\'s in-flight commands through commands_inflight, not by reading every lease, in the claim and the enqueue', async () => {
    // Plans built on an empty queue (a dispatcher polling before traffic): with a lease index whose
    // predicate was `status = 'inflight'`, both functions counted a device's in flight by reading
    // every lease in the queue, for each device they visited (1,950 of a claim's 3,165 buffers here).
    await fx.oneConnection('pg-claim-count', {}, async (q, client) => {
      for (let i = 0; i < 8; i++) expect(await q.claim({ max: 50, leaseMs: 30_000 })).toEqual([]);
      await q.enqueueBatch([input('count-warm')]);
      const [warm] = await q.claim({ max: 1, leaseMs: 30_000 });
      await q.ack([{ id: warm!.id, leaseToken: warm!.leaseToken, outcome: 'ok' }]);
      await q.enqueueBatch(Array.from({ length: 300 }, (_, i) => input(`count-busy-${i}`, { priority: 9 })));
      expect(await q.claim({ max: 300, leaseMs: 30_000 })).toHaveLength(300);
      await q.enqueueBatch(Array.from({ length: 100 }, (_, i) => input(`count-ready-${i % 50}`)));
      const leaseIndexes = (nodes: Array<Record<string, unknown>>): unknown[] =>
        nodes.filter((n) => String(n['Index Name'] ?? '').startsWith('commands_lease')).map((n) => n['Index Name']);
      const claimed = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 20, leaseMs: 30_000 })).toHaveLength(20));
      expect(leaseIndexes(claimed.at(-1)!)).toEqual([]);
      expect(claimed.at(-1)!.some((n) => n['Index Name'] === 'commands_inflight')).toBe(true);
      const enqueued = await nestedPlans(client, 'WITH item', () => q.enqueueBatch(Array.from({ length: 20 }, (_, i) => input(`count-ready-${i}`))));
      expect(leaseIndexes(enqueued.at(-1)!)).toEqual([]);
      expect(enqueued.at(-1)!.some((n) => n['Index Name'] === 'commands_inflight')).toBe(true);
    });
  });

  it('reads the claim\'s candidate devices once when it updates them, not once per device claimed from', async () => {
    // The device update joined the claimed commands back to the candidates as a nested loop over a
    // CTE it could not size: batch x batch comparisons (~9 ms of a claim of 1,000).
    await fx.oneConnection('pg-claim-nojoin', {}, async (q, client, prefix) => {
      await q.enqueueBatch(Array.from({ length: 60 }, (_, i) => input(`nojoin-${i % 30}`)));
      const plans = await nestedPlans(client, 'WITH candidates', async () => expect(await q.claim({ max: 20, leaseMs: 30_000 })).toHaveLength(20));
      const nodes = plans.at(-1)!;
      const deviceUpdate = nodes.find((n) => n['Node Type'] === 'ModifyTable' && n['Relation Name'] === 'devices')!;
      const below: Array<Record<string, unknown>> = [];
      const collect = (node: Record<string, unknown>): void => {
        for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) {
          below.push(child);
          collect(child);
        }
      };
      collect(deviceUpdate);
      const candidateScans = below.filter((n) => n['Node Type'] === 'CTE Scan' && n['CTE Name'] === 'candidates');
      expect(candidateScans.length).toBeGreaterThan(0);
      expect(candidateScans.map((n) => n['Actual Loops'])).toEqual(candidateScans.map(() => 1));
      // and the device rows it claimed from still say what is left of their lines
      const { rows } = await client.query<{ queued: number }>(`SELECT queued FROM "${prefix}".devices WHERE phy_id = 'nojoin-0'`);
      expect(rows[0]!.queued).toBe(1);
    });
  });

  it('plans the claim with index paths only, and the lease reaper still reads the lease index', async () => {
    await fx.oneConnection('pg-claim-noseq', {}, async (q, client, prefix) => {
      const { rows } = await client.query<{ config: string[] }>(
        `SELECT p.proconfig AS config FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'claim_commands'`,
        [prefix],
      );
      expect(rows[0]!.config).toContain('enable_seqscan=off');
      await q.enqueueBatch(Array.from({ length: 50 }, (_, i) => input(`noseq-${i}`)));
      expect(await q.claim({ max: 50, leaseMs: 30_000 })).toHaveLength(50);
      // on a table this small a sequential scan is cheapest: the question is whether the index can serve
      await client.query(`ANALYZE "${prefix}".commands`);
      await client.query('SET enable_seqscan = off');
      const reaper = await planNodes(
        client,
        `SELECT id FROM "${prefix}".commands WHERE status = 'inflight' AND lease_expires_at <= now() ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED`,
      );
      await client.query('RESET enable_seqscan');
      expect(reaper.some((n) => n['Index Name'] === 'commands_lease_due')).toBe(true);
    });
  });
});
