import { Pool } from 'pg';
import { isOutboundError, PostgresQueue, ValidatedQueue, type LoggedEvent } from '@outbound/core';
import { createTestDatabase, waitFor } from '@outbound/test-support';
import { PgQueueFixture, input } from './postgres-helpers';

// What the shared conformance module (conformance/events.ts) cannot see from the interface: the
// order of commits against the order of ids, the claim's own expiry, release, batch order within
// one statement, NOTIFY between instances, and retention.
const fx = new PgQueueFixture('pg-events');
beforeAll(() => fx.setup());
afterAll(() => fx.teardown());

const LEASE = { max: 10, leaseMs: 60_000 };
const kinds = (events: LoggedEvent[]) => events.map((e) => [e.type, e.phyId]);

describe('PostgreSQL event log', () => {
  it('never hands out a position a slower transaction could still commit behind', async () => {
    const q = await fx.queue();
    const schema = q.store.schema;
    const head = await q.eventsHead();
    const slow = await fx.pool.connect();
    const fast = await fx.pool.connect();
    try {
      // The slow transaction starts first (takes the lower transaction id) and logs its event
      // first (the lower event id too), but commits last.
      await slow.query('BEGIN');
      await slow.query(`INSERT INTO "${schema}".devices (phy_id, offline) VALUES ('ooo-slow', true)`);
      await fast.query('BEGIN');
      await fast.query(`INSERT INTO "${schema}".devices (phy_id, offline) VALUES ('ooo-fast', true)`);
      await fast.query('COMMIT');
      // The fast event is committed but sits behind a transaction still running: not handed out,
      // and the cursor does not move past it.
      const early = await q.readEvents({ after: head });
      expect(early).toEqual({ events: [], cursor: head });
      await slow.query('COMMIT');
      const page = await q.readEvents({ after: early.cursor });
      expect(kinds(page.events)).toEqual([
        ['device.offline', 'ooo-slow'],
        ['device.offline', 'ooo-fast'],
      ]);
      expect(await q.readEvents({ after: page.cursor })).toEqual({ events: [], cursor: page.cursor });
    } finally {
      await slow.query('ROLLBACK').catch(() => undefined);
      slow.release();
      fast.release();
    }
  });

  it('is not held back by a transaction running in another database of the cluster', async () => {
    const q = await fx.queue();
    const head = await q.eventsHead();
    const other = await createTestDatabase('pg-events-other');
    const elsewhere = new Pool({ connectionString: other.url, max: 1 });
    const open = await elsewhere.connect();
    try {
      // a transaction with an xid (cluster-wide), older than everything below, left open
      await open.query('BEGIN');
      await open.query('SELECT pg_current_xact_id()');
      const { id } = await q.enqueue(input('other-db'));
      const page = await q.readEvents({ after: head });
      expect(page.events.map((e) => [e.type, e.commandId])).toEqual([['command.queued', id]]);
      expect(await q.eventsHead()).not.toBe(head);
    } finally {
      await open.query('ROLLBACK').catch(() => undefined);
      open.release();
      await elsewhere.end();
      await other.drop();
    }
  });

  it('logs the events of one batch in input order, each outcome after its delivery', async () => {
    const q = await fx.queue();
    const ids = await Promise.all(['b1', 'b2', 'b3'].map(async (d) => (await q.enqueue(input(d))).id));
    const claimed = await q.claim(LEASE);
    const head = await q.eventsHead();
    const order = [...claimed].sort((x, y) => ids.indexOf(y.id) - ids.indexOf(x.id)); // b3, b2, b1
    await q.ack(order.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'r1' })));
    const { events } = await q.readEvents({ after: head });
    expect(kinds(events)).toEqual([
      ['command.delivered', 'b3'], ['command.acked', 'b3'],
      ['command.delivered', 'b2'], ['command.acked', 'b2'],
      ['command.delivered', 'b1'], ['command.acked', 'b1'],
    ]);
  });

  it('logs nothing for a release (the attempt is given back), and logs the claim expiring a command whose TTL passed', async () => {
    const q = await fx.queue();
    const { id } = await q.enqueue(input('rel'));
    const [first] = await q.claim(LEASE);
    await q.release([{ id, leaseToken: first!.leaseToken, reason: 'dispatcher stopping' }]);
    const [again] = await q.claim(LEASE);
    await q.ack([{ id, leaseToken: again!.leaseToken, outcome: 'ok', replica: 'r1' }]);
    const events = (await q.commandEvents(id))!;
    expect(events.map((e) => [e.type, e.attempt])).toEqual([['command.queued', undefined], ['command.delivered', 1], ['command.acked', 1]]);

    // Only a claim runs here (no expiry sweep): the claim expires the command instead of sending it.
    // The device is parked until the TTL has passed, so no claim can take the command before.
    await q.markDeviceOffline('ttl-claim');
    const short = await q.enqueue(input('ttl-claim', { ttlMs: 30 }));
    const { expiresAt } = (await q.get(short.id))!;
    await waitFor(() => Date.now() > expiresAt + 5, { what: 'the TTL to pass' });
    await q.markDeviceOnline('ttl-claim');
    expect(await q.claim(LEASE)).toEqual([]);
    expect((await q.get(short.id))!.status).toBe('expired');
    const expiry = await q.commandEvents(short.id);
    expect(expiry!.map((e) => [e.type, e.attempt, e.details.reason])).toEqual([
      ['command.queued', undefined, undefined],
      ['command.expired', undefined, 'ttl passed before delivery'],
    ]);
  });

  it('wakes a reader waiting on another instance (NOTIFY after the commit)', async () => {
    const writer = await fx.queue();
    const pool = new Pool({ connectionString: (fx.pool.options as { connectionString: string }).connectionString, max: 2 });
    const reader = new ValidatedQueue(new PostgresQueue(pool, { prefix: writer.store.schema }));
    try {
      const head = await reader.eventsHead();
      const started = Date.now();
      const reading = reader.readEvents({ after: head, waitMs: 30_000 });
      // the reader's LISTEN is up before its first read; give that read a moment to be waiting
      const listening = `LISTEN "${writer.store.schema}:events"`;
      await waitFor(async () => (await pool.query('SELECT 1 FROM pg_stat_activity WHERE query = $1', [listening])).rowCount! > 0, { what: 'the reader to listen' });
      const { id } = await writer.enqueue(input('notify'));
      const page = await reading;
      expect(page.events.map((e) => [e.type, e.commandId])).toEqual([['command.queued', id]]);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await reader.close();
      await pool.end();
    }
  });

  it('drops events past retention in the expiry sweep and reads on from the oldest kept', async () => {
    const q = await fx.queue({ retentionMs: 300 });
    const old = await q.enqueue(input('ret-old'));
    const { events: [first] } = await q.readEvents({ after: null });
    await waitFor(async () => {
      await q.expireDue();
      return (await q.readEvents({ after: null })).events.length === 0;
    }, { what: 'retention to drop the event' });
    // still queued (its TTL is longer than retention): known, with its events gone
    expect(await q.commandEvents(old.id)).toEqual([]);
    const kept = await q.enqueue(input('ret-new'));
    // A cursor from before the drop reads on from the oldest event kept.
    expect((await q.readEvents({ after: first!.cursor })).events.map((e) => e.commandId)).toEqual([kept.id]);
  });

  it('refuses a cursor it did not hand out, naming the field', async () => {
    const q = await fx.queue();
    const error = await q.readEvents({ after: '0-17-x' }).catch((e: unknown) => e);
    expect(isOutboundError(error) && error.code).toBe('VALIDATION_FAILED');
    expect((error as Error).message).toMatch(/after/);
  });
});
