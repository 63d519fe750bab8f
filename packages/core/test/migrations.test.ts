import { Pool } from 'pg';
import { loadMigrations, runMigrations, schemaVersion } from '@outbound/core';
import { createTestDatabase, type TestDatabase } from '@outbound/test-support';

let db: TestDatabase;
const pools: Pool[] = [];
beforeAll(async () => {
  db = await createTestDatabase('migrations');
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
});
const pool = (): Pool => {
  const p = new Pool({ connectionString: db.url, max: 2 });
  pools.push(p);
  return p;
};

describe('runMigrations', () => {
  it('applies every migration once when several replicas start together', async () => {
    const all = loadMigrations();
    const reports = await Promise.all([1, 2, 3, 4].map(() => runMigrations(pool(), { schema: 'replicas_race' })));
    // Exactly one runner applied each migration; the others found it recorded.
    expect(reports.flatMap((r) => r.applied).sort()).toEqual(all.map((m) => m.name).sort());
    expect(reports.every((r) => r.version === all.length)).toBe(true);
    const { rows } = await pools[0]!.query<{ version: number }>('SELECT version FROM replicas_race.schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(all.map((m) => m.version));
    expect(await schemaVersion(pools[0]!, 'replicas_race')).toBe(all.length);
  });

  it('is a no-op on an up-to-date schema and reports version 0 for an unknown one', async () => {
    const p = pool();
    expect((await runMigrations(p, { schema: 'replicas_race' })).applied).toEqual([]);
    expect(await schemaVersion(p, 'never_migrated')).toBe(0);
  });

  it('leaves nothing recorded when a migration fails (its transaction rolls back)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'outbound-mig-'));
    writeFileSync(join(dir, '0001-ok.sql'), 'CREATE TABLE t1 (x int);');
    writeFileSync(join(dir, '0002-broken.sql'), 'CREATE TABLE t2 (x int); SELECT no_such_function();');
    const p = pool();
    await expect(runMigrations(p, { schema: 'broken', directory: dir })).rejects.toThrow(/0002-broken/);
    const { rows } = await p.query<{ version: number }>('SELECT version FROM broken.schema_migrations');
    expect(rows.map((r) => r.version)).toEqual([1]);
    expect((await p.query("SELECT to_regclass('broken.t2') AS t")).rows[0].t).toBeNull();
  });
});
