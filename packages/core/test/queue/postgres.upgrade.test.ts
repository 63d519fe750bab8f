import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, MIGRATIONS_DIR, PostgresQueue, runMigrations, ValidatedQueue } from '@outbound/core';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { PgQueueFixture, input } from './postgres-helpers';

const fx = new PgQueueFixture('pg-upgrade');
beforeAll(() => fx.setup());
afterAll(() => fx.teardown());

/** A directory holding the first `version` migrations: a schema as an older release left it. */
function migrationsUpTo(version: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'outbound-migrations-'));
  for (const m of loadMigrations().filter((x) => x.version <= version)) copyFileSync(join(MIGRATIONS_DIR, `${m.name}.sql`), join(dir, `${m.name}.sql`));
  return dir;
}

describe('PostgreSQL upgrade from migration 0013', () => {
  it('keeps commands in every state and each moves on after the upgrade', async () => {
    const prefix = uniquePrefix('pg-upgrade').replace(/-/g, '_');
    const older = migrationsUpTo(13);
    const q = new ValidatedQueue(new PostgresQueue(fx.pool, { prefix }));
    try {
      expect((await runMigrations(fx.pool, { schema: prefix, directory: older })).version).toBe(13);
      const lease = { max: 10, leaseMs: 30_000 };

      // in flight with a lease that has run out: the reaper's work after the upgrade
      const lapsed = await q.enqueue(input('up-lapsed'));
      expect((await q.claim({ max: 1, leaseMs: 50 })).map((c) => c.id)).toEqual([lapsed.id]);
      const flight = await q.enqueue(input('up-flight'));
      const acked = await q.enqueue(input('up-acked'));
      const backoff = await q.enqueue(input('up-backoff'));
      const dead = await q.enqueue(input('up-dead', { maxAttempts: 1 }));
      const claimed = await q.claim(lease);
      expect(claimed.map((c) => c.id).sort()).toEqual([flight.id, acked.id, backoff.id, dead.id].sort());
      const token = (id: string): string => claimed.find((c) => c.id === id)!.leaseToken;
      await q.ack([{ id: acked.id, leaseToken: token(acked.id), outcome: 'ok' }]);
      // a backoff long enough that the claims right after the upgrade come before it ends (they took ~0.6 s on a loaded host)
      expect(await q.fail([{ id: backoff.id, leaseToken: token(backoff.id), error: 'busy', retryable: true, retryDelayMs: 8_000 }])).toMatchObject([{ status: 'queued' }]);
      expect(await q.fail([{ id: dead.id, leaseToken: token(dead.id), error: 'gone', retryable: true }])).toMatchObject([{ status: 'dead' }]);
      const ready = await q.enqueue(input('up-ready'));
      const parked = await q.enqueue(input('up-parked'));
      await q.markDeviceOffline('up-parked');
      const expired = await q.enqueue(input('up-expired', { ttlMs: 30 }));
      await waitFor(async () => (await q.expireDue()) > 0, { what: 'the short TTL to pass' });

      const ids = [lapsed, flight, acked, backoff, dead, ready, parked, expired].map((c) => c.id);
      const before = await Promise.all(ids.map((id) => q.get(id)));
      expect(before.map((c) => c!.status)).toEqual(['inflight', 'inflight', 'acked', 'queued', 'dead', 'queued', 'queued', 'expired']);

      const report = await runMigrations(fx.pool, { schema: prefix });
      expect(report.applied).toEqual(loadMigrations().filter((m) => m.version > 13).map((m) => m.name));
      const { rows: indexes } = await fx.pool.query<{ name: string }>(`SELECT indexname AS name FROM pg_indexes WHERE schemaname = $1 AND tablename = 'commands'`, [prefix]);
      expect(indexes.map((i) => i.name)).toContain('commands_lease_due');
      expect(indexes.map((i) => i.name)).not.toContain('commands_lease');

      // nothing lost or changed by the upgrade itself
      const after = await Promise.all(ids.map((id) => q.get(id)));
      expect(after).toEqual(before);

      // each state moves on
      expect(await q.ack([{ id: flight.id, leaseToken: token(flight.id), outcome: 'ok' }])).toEqual([{ id: flight.id, ok: true, status: 'acked' }]);
      expect(await q.reclaimExpired()).toBe(1);
      const next = await q.claim(lease);
      expect(next.map((c) => c.id).sort()).toEqual([lapsed.id, ready.id].sort()); // not the parked device, not the retry before its wait ends
      await q.ack(next.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
      expect(await q.replayDead({ ids: [dead.id] })).toBe(1);
      await q.markDeviceOnline('up-parked');
      const woken = await q.claim(lease);
      expect(woken.map((c) => c.id).sort()).toEqual([dead.id, parked.id].sort());
      await q.ack(woken.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
      const retried = await waitFor(async () => (await q.claim(lease))[0], { what: 'the retry wait to end', timeoutMs: 30_000 });
      expect(retried).toMatchObject({ id: backoff.id, attempts: 2 });
      await q.ack([{ id: retried.id, leaseToken: retried.leaseToken, outcome: 'ok' }]);

      const final = await Promise.all(ids.map((id) => q.get(id)));
      expect(final.map((c) => c!.status)).toEqual(['acked', 'acked', 'acked', 'acked', 'acked', 'acked', 'acked', 'expired']);
      expect((await q.stats()).total).toMatchObject({ pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 });
    } finally {
      rmSync(older, { recursive: true, force: true });
      await q.close();
    }
  });
});
