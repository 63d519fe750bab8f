import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import {
  classifyPostgresError, COMMAND_DEFAULTS, createPgPool, inTransaction, isCommitUnknown, isStoreError, PostgresQueue, runMigrations, ValidatedQueue,
} from '@outbound/core';
import { createTestDatabase, freePort, uniquePrefix, waitFor, type TestDatabase } from '@outbound/test-support';

/**
 * PostgreSQL errors as the API sees them: each real failure the server or the driver produces,
 * through classifyPostgresError (the one place they become StoreErrors), and a pool whose
 * connections are killed under it keeps the process alive and works again.
 */
const run = promisify(execFile);
let db: TestDatabase;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase('store-errors');
  admin = new Client({ connectionString: db.url });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);

/** What `fn` rejects with, as thrown (it must reject). */
async function failure(fn: () => Promise<unknown>): Promise<Error> {
  return fn().then(
    () => { throw new Error('expected a failure'); },
    (error: unknown) => error as Error,
  );
}

test('a refused connection: unreachable, STORE_UNAVAILABLE (nothing stored), even for a write that names its ids', async () => {
  const pool = createPgPool({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, connectionTimeoutMs: 1_000 });
  try {
    const error = classifyPostgresError(await failure(() => pool.query('SELECT 1')), 'enqueue', { ids: ['a'] });
    expect(isStoreError(error) && { backend: error.backend, kind: error.kind, code: error.code }).toEqual({ backend: 'postgres', kind: 'unreachable', code: 'STORE_UNAVAILABLE' });
  } finally {
    await pool.end();
  }
});

test('a statement timeout: timeout, OUTCOME_UNKNOWN naming the id for a write, STORE_UNAVAILABLE for a read', async () => {
  const pool = createPgPool({ url: db.url, statementTimeoutMs: 50 });
  try {
    const raw = await failure(() => pool.query('SELECT pg_sleep(2)'));
    expect((raw as Error & { code?: string }).code).toBe('57014');
    const write = classifyPostgresError(raw, 'enqueue', { ids: ['0001aaaa-0000-4000-8000-000000000000'] });
    expect({ kind: isStoreError(write) && write.kind, code: write.code, details: write.details }).toEqual({
      kind: 'timeout', code: 'OUTCOME_UNKNOWN', details: { id: '0001aaaa-0000-4000-8000-000000000000' },
    });
    expect(classifyPostgresError(raw, 'get').code).toBe('STORE_UNAVAILABLE');
  } finally {
    await pool.end();
  }
});

test('a backend shut down by the server (57P01): failover, STORE_UNAVAILABLE', async () => {
  const pool = createPgPool({ url: db.url, max: 2 });
  try {
    const sleeping = failure(() => pool.query("SELECT pg_sleep(10) /* store-errors-victim */"));
    const pid = await waitFor(async () => (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE '%store-errors-victim%' AND pid <> pg_backend_pid()")).rows[0]?.pid);
    await terminate(pid);
    const raw = await sleeping;
    expect((raw as Error & { code?: string }).code).toBe('57P01');
    const error = classifyPostgresError(raw, 'claim');
    expect({ kind: isStoreError(error) && error.kind, code: error.code }).toEqual({ kind: 'failover', code: 'STORE_UNAVAILABLE' });
  } finally {
    await pool.end();
  }
});

/**
 * Run as its own process (from the build, as services run): an 'error' event nobody hears ends
 * the process, which jest's own process would not show.
 */
const CHECKED_OUT_CLIENT_DIES = `
const { createPgPool, classifyPostgresError } = require(process.argv[1]);
const { Client } = require('pg');
(async () => {
  const pool = createPgPool({ url: process.argv[2], max: 2 });
  const admin = new Client({ connectionString: process.argv[2] });
  await admin.connect();
  const client = await pool.connect();
  const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await admin.query('SELECT pg_sleep(0.2)');
  const failed = await client.query('SELECT 1').then(() => null, (error) => classifyPostgresError(error, 'claim').code);
  client.release(true);
  const again = (await pool.query('SELECT 1 AS one')).rows[0].one;
  console.log(JSON.stringify({ failed, again }));
  await admin.end();
  await pool.end();
})();
`;

test('a checked-out client whose server goes away does not end the process, and the pool works again', async () => {
  const core = join(__dirname, '..', '..', 'dist', 'index.js');
  const { stdout } = await run(process.execPath, ['-e', CHECKED_OUT_CLIENT_DIES, core, db.url], { cwd: join(__dirname, '..', '..'), timeout: 20_000 });
  expect(JSON.parse(stdout.trim())).toEqual({ failed: 'STORE_UNAVAILABLE', again: 1 });
});

test('a connection lost while COMMIT is on the wire: the outcome is unknown and the answer names the ids', async () => {
  const pool = createPgPool({ url: db.url, max: 2 });
  try {
    const raw = await failure(() =>
      inTransaction(pool, async (client) => {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await terminate(pid);
        await waitFor(async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, { what: 'the backend to exit' });
      }),
    );
    expect(isCommitUnknown(raw)).toBe(true);
    const error = classifyPostgresError(raw, 'enqueue', { ids: ['x', 'y'] });
    expect({ code: error.code, details: error.details }).toEqual({ code: 'OUTCOME_UNKNOWN', details: { ids: ['x', 'y'] } });

    // Lost before COMMIT was sent, the server rolled the transaction back: nothing stored.
    const early = await failure(() =>
      inTransaction(pool, async (client) => {
        const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await terminate(pid);
        await client.query('SELECT 1');
      }),
    );
    expect(isCommitUnknown(early)).toBe(false);
    expect(classifyPostgresError(early, 'enqueue', { ids: ['x'] }).code).toBe('STORE_UNAVAILABLE');
  } finally {
    await pool.end();
  }
});

test('insufficient resources (class 53): full, STORE_FULL', async () => {
  const pool = createPgPool({ url: db.url, max: 1 });
  try {
    // temp_file_limit is the class-53 limit a test can reach without filling the disk.
    const raw = await failure(() =>
      inTransaction(pool, async (client) => {
        await client.query("SET LOCAL temp_file_limit = '64kB'");
        await client.query("SET LOCAL work_mem = '64kB'");
        await client.query('SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC');
      }),
    );
    expect((raw as Error & { code?: string }).code).toMatch(/^53/);
    const error = classifyPostgresError(raw, 'enqueue', { ids: ['x'] });
    expect({ kind: isStoreError(error) && error.kind, code: error.code }).toEqual({ kind: 'full', code: 'STORE_FULL' });
  } finally {
    await pool.end();
  }
});

test('PostgresQueue answers coded errors only: a dead server is STORE_UNAVAILABLE, a bad claim stays VALIDATION_FAILED', async () => {
  const prefix = uniquePrefix('store_errors').replace(/-/g, '_');
  const live = createPgPool({ url: db.url, max: 1 });
  await runMigrations(live, { schema: prefix });
  await live.end();
  const pool = createPgPool({ url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`, connectionTimeoutMs: 500 });
  const queue = new ValidatedQueue(new PostgresQueue(pool, { prefix }));
  try {
    const input = { phyId: 'SE-1', payload: Buffer.from('x'), priority: 0, ttlMs: COMMAND_DEFAULTS.ttlMs, ackTimeoutMs: 1_000, maxAttempts: 3 };
    for (const call of [() => queue.enqueue(input), () => queue.claim({ max: 1, leaseMs: 1_000 }), () => queue.stats(), () => queue.get('00000000-0000-4000-8000-000000000000')]) {
      const error = await failure(call);
      expect({ store: isStoreError(error), code: (error as { code?: string }).code }).toEqual({ store: true, code: 'STORE_UNAVAILABLE' });
    }
    expect((await failure(() => queue.claim({ max: 0, leaseMs: 1_000 })) as { code?: string }).code).toBe('VALIDATION_FAILED');
  } finally {
    await queue.close();
    await pool.end();
  }
});
