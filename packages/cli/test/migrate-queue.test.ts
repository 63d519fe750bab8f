import Redis from 'ioredis';
import { Pool } from 'pg';
import {
  COMMAND_DEFAULTS, loadMigrations, PostgresQueue, PostgresTransfer, RedisQueue, RedisQueueV3, runMigrations, ValidatedQueue, type CommandQueue, type RedisClient, type EnqueueInput, type StoredCommand,
} from '@outbound/core';
import { createTestDatabase, testRedisUrl, uniquePrefix, type TestDatabase } from '@outbound/test-support';
import { buildProgram } from '../src/main';
import { migrateQueue, postgresSide, redisSide, type TransferSide } from '../src/migrate/migrate-queue';
import { RedisTransfer } from '../src/migrate/redis-transfer';

let db: TestDatabase;
let pool: Pool;
let redis: Redis;
beforeAll(async () => {
  db = await createTestDatabase('migrate-queue');
  pool = new Pool({ connectionString: db.url, max: 6 });
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await pool.end();
  await redis.quit();
  await db.drop();
});

interface Ends {
  pg: ValidatedQueue<PostgresQueue>;
  rd: ValidatedQueue<RedisQueue>;
  pgSide: TransferSide;
  rdSide: TransferSide;
  close(): Promise<void>;
}

async function ends(): Promise<Ends> {
  const prefix = uniquePrefix('mq').replace(/-/g, '_');
  await runMigrations(pool, { schema: prefix });
  const options = { prefix, shards: 4, backoff: { baseMs: 1, maxMs: 1, jitter: 0 } };
  const pg = new ValidatedQueue(new PostgresQueue(pool, options));
  const rd = new ValidatedQueue(new RedisQueue(redis, options));
  return {
    pg,
    rd,
    pgSide: postgresSide(new PostgresTransfer(pool, prefix)),
    rdSide: redisSide(new RedisTransfer(redis, { prefix, shards: 4 })),
    close: async () => {
      await pg.close();
      await rd.close();
    },
  };
}

const input = (phyId: string, extra: Partial<EnqueueInput> = {}): EnqueueInput => ({
  phyId, payload: Buffer.from(`p-${phyId}-${Math.random()}`), priority: 5, ttlMs: COMMAND_DEFAULTS.ttlMs,
  ackTimeoutMs: 10_000, maxAttempts: 5, ...extra,
});

/**
 * A queue with something of everything: 6 devices with mixed priorities, a command with a spent
 * attempt, an idempotency key, a parked-free dead letter. Answers nothing; read it back with snapshot().
 */
async function fill(q: CommandQueue): Promise<void> {
  const inputs: EnqueueInput[] = [];
  for (let i = 0; i < 60; i++) inputs.push(input(`DEV-${i % 6}`, { priority: [5, 9, 1, 5][i % 4]!, ...(i === 7 ? { idempotencyKey: 'once' } : {}) }));
  for (const r of await q.enqueueBatch(inputs)) if (r instanceof Error) throw r;
  // One attempt spent (back in line), one dead letter with its reason.
  const [c] = await q.claim({ max: 1, leaseMs: 30_000 });
  await q.fail([{ id: c!.id, leaseToken: c!.leaseToken, error: 'busy', retryable: true, retryDelayMs: 0 }]);
  await q.enqueue(input('DEV-DEAD', { maxAttempts: 1 }));
  for (;;) {
    const batch = await q.claim({ max: 10, leaseMs: 30_000 });
    const dead = batch.find((b) => b.phyId === 'DEV-DEAD');
    await q.release(batch.filter((b) => b !== dead).map((b) => ({ id: b.id, leaseToken: b.leaseToken })));
    if (dead) {
      await q.fail([{ id: dead.id, leaseToken: dead.leaseToken, error: 'device refused', retryable: true }]);
      break;
    }
  }
}

/** Every device's line (ids, priority, attempts, in delivery order) and the dead letters. */
async function snapshot(q: CommandQueue): Promise<{ lines: Record<string, Array<Partial<StoredCommand>>>; dead: Array<Partial<StoredCommand>> }> {
  const pick = (c: StoredCommand): Partial<StoredCommand> => ({
    id: c.id, priority: c.priority, attempts: c.attempts, status: c.status, payload: c.payload, lastError: c.lastError, idempotencyKey: c.idempotencyKey,
  });
  const lines: Record<string, Array<Partial<StoredCommand>>> = {};
  for (let d = 0; d < 6; d++) lines[`DEV-${d}`] = (await q.listDevice(`DEV-${d}`, { limit: 1000 })).map(pick);
  return { lines, dead: (await q.listDead({ limit: 100 })).items.map(pick) };
}

async function crashHalfway(from: TransferSide, to: TransferSide): Promise<void> {
  const crash = migrateQueue(from, to, {
    batchSize: 8,
    afterImport: (batch) => {
      if (batch === 3) throw new Error('simulated crash between copy and removal');
    },
  });
  await expect(crash).rejects.toThrow('simulated crash');
}

describe('outbound migrate-queue', () => {
  it.each([
    ['postgres', 'redis'],
    ['redis', 'postgres'],
  ] as const)('moves %s -> %s with ids, priorities, attempts and order intact, across a crash half-way', async (fromName, _toName) => {
    const e = await ends();
    try {
      const [source, target] = fromName === 'postgres' ? [e.pg, e.rd] : [e.rd, e.pg];
      const [from, to] = fromName === 'postgres' ? [e.pgSide, e.rdSide] : [e.rdSide, e.pgSide];
      await fill(source);
      const before = await snapshot(source);
      expect(before.dead).toHaveLength(1);
      expect(Object.values(before.lines).flat().some((c) => c.attempts === 1)).toBe(true);

      await crashHalfway(from, to);
      const rerun = await migrateQueue(from, to, { batchSize: 8 });
      // The interrupted batch reached the target before the crash: the rerun finds it, not copies it.
      expect(rerun.alreadyThere).toBe(8);
      expect(await from.counts()).toEqual({ pending: 0, dead: 0 });
      expect(await to.counts()).toEqual({ pending: 60, dead: 1 });
      expect(await snapshot(target)).toEqual(before);
      expect(await snapshot(source)).toEqual({ lines: Object.fromEntries(Object.keys(before.lines).map((k) => [k, []])), dead: [] });

      // A third run moves nothing; the idempotency key still answers the first id on the target.
      expect(await migrateQueue(from, to)).toMatchObject({ read: 0, written: 0, removed: 0 });
      const again = await target.enqueue(input('DEV-1', { idempotencyKey: 'once' }));
      expect(again.duplicate).toBe(true);
      // The target delivers what it got: the first claim is the highest-priority head.
      const [first] = await target.claim({ max: 1, leaseMs: 30_000 });
      expect(first!.priority).toBe(9);
    } finally {
      await e.close();
    }
  });

  it('runs as `outbound migrate` and `outbound migrate-queue --dry-run`, and refuses a bad --from', async () => {
    const schema = uniquePrefix('cli').replace(/-/g, '_');
    const out: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
    try {
      await buildProgram().parseAsync(['node', 'outbound', 'migrate', '--database-url', db.url, '--schema', schema, '--json']);
      // Every migration shipped is applied: the newest number, however many there are.
      expect(JSON.parse(out[0]!)).toMatchObject({ schema, version: loadMigrations().length });
      await buildProgram().parseAsync([
        'node', 'outbound', 'migrate-queue', '--from', 'postgres', '--to', 'redis', '--database-url', db.url,
        '--redis-url', testRedisUrl(), '--prefix', schema, '--dry-run', '--json',
      ]);
      expect(JSON.parse(out[1]!)).toMatchObject({ from: 'postgres', to: 'redis', read: 0, before: { pending: 0, dead: 0 } });
      await expect(
        buildProgram().parseAsync(['node', 'outbound', 'migrate-queue', '--from', 'mysql', '--to', 'redis', '--database-url', db.url, '--redis-url', testRedisUrl()]),
      ).rejects.toThrow('--from must be postgres or redis');
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses to move from Redis while the v3 layout (the dispatchers\' default) holds commands it would leave behind', async () => {
    const schema = uniquePrefix('cli-v3').replace(/-/g, '_');
    await runMigrations(pool, { schema });
    const v3 = new ValidatedQueue(new RedisQueueV3(redis as unknown as RedisClient, { prefix: schema, shards: 16, liveness: false }));
    const run = () => buildProgram().parseAsync([
      'node', 'outbound', 'migrate-queue', '--from', 'redis', '--to', 'postgres', '--database-url', db.url, '--redis-url', testRedisUrl(), '--prefix', schema, '--json',
    ]);
    const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const { id } = await v3.enqueue(input('DEV-V3'));
      await expect(run()).rejects.toThrow('the Redis v3 layout holds 1 commands');
      expect(await v3.get(id)).toMatchObject({ status: 'queued' });
      await v3.cancel(id);
      await expect(run()).resolves.toBeDefined();
    } finally {
      spy.mockRestore();
      await v3.close();
    }
  });
});
