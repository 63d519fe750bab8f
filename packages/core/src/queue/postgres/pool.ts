import { DatabaseError, Pool, type PoolClient, type QueryConfig, type QueryResultRow } from 'pg';
import { toError } from '../../errors';
import { markCommitUnknown, pgErrorKind } from './classify-error';

/** How to reach PostgreSQL and size the pool (from each service's config). */
export interface PgPoolOptions {
  /** `postgres://user:pass@host:5432/db` (DATABASE_URL). */
  url: string;
  /** Most connections this process opens. Default 10. */
  max?: number;
  /** Idle connections close after this long. Default 30,000 ms. */
  idleTimeoutMs?: number;
  /** Server-side limit on any one statement, so a stuck query cannot hold a lock forever. Default 30,000 ms. */
  statementTimeoutMs?: number;
  /** Waiting for a free or new connection fails after this long. Default 5,000 ms. */
  connectionTimeoutMs?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

/** Makes a pg Pool. Errors on idle clients (server restart) are absorbed: the pool drops the client and opens a new one on demand. */
export function createPgPool(options: PgPoolOptions): Pool {
  const pool = new Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    application_name: options.applicationName ?? 'outbound',
  });
  // A server that goes away emits 'error' on every connection it had: on idle ones through the
  // pool (absorbed here; the pool drops them), on checked-out ones on the client itself, where an
  // unheard 'error' event would end the process. The query in flight rejects on its own, and a
  // client that errored is released as broken, so the listener only has to exist.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Pool health as /health reports it. */
export interface PgHealth {
  ok: boolean;
  /** Round trip of `SELECT 1` through the pool, including any wait for a connection. */
  latencyMs: number | null;
  total: number;
  idle: number;
  waiting: number;
  serverVersion?: string;
  error?: string;
}

/** Pings through the pool and reports its counters (total, idle, waiting) and the latency. */
export async function checkPgHealth(pool: Pool, timeoutMs = 2_000): Promise<PgHealth> {
  const counters = { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  try {
    const ping = pool.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version']);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([ping, timeout]);
    const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
    return { ok: true, latencyMs: Math.round(latencyMs * 100) / 100, ...counters, serverVersion: result.rows[0]?.v };
  } catch (error) {
    return { ok: false, latencyMs: null, ...counters, error: toError(error).message };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one pooled client; rolls back and rethrows on error. A
 * connection lost while COMMIT was on the wire leaves the outcome unknown: that error is marked
 * (isCommitUnknown). Lost any earlier, the server rolls the transaction back.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  let committing = false;
  try {
    await client.query('BEGIN');
    const value = await fn(client);
    committing = true;
    await client.query('COMMIT');
    return value;
  } catch (error) {
    if (committing && pgErrorKind(error) !== null) markCommitUnknown(error);
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true; // the connection itself is gone: do not hand it back to the pool
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Runs one write statement in its own implicit transaction. A connection lost once the statement
 * was sent leaves its outcome unknown (the server may have committed before the socket went):
 * that error is marked (isCommitUnknown). An error the server answered with rolled it back.
 */
export async function writeStatement<R extends QueryResultRow>(pool: Pool, query: QueryConfig): Promise<R[]> {
  const client = await pool.connect();
  let broken = false;
  try {
    return (await client.query<R>(query)).rows;
  } catch (error) {
    if (!(error instanceof DatabaseError) && pgErrorKind(error) !== null) {
      markCommitUnknown(error);
      broken = true;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
