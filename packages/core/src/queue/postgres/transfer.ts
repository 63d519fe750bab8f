import type { Pool } from 'pg';
import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import { arrivals, departures, MERGE_HEAD, RECOMPUTE_HEAD } from './device-head';
import { withPgRetry } from './retry';
import { ms, type CommandRow } from './rows';
import { inTransaction } from './pool';
import { schemaName, type SchemaName } from './schema-name';

/**
 * One pending or dead-lettered command as `outbound migrate-queue` moves it between backends:
 * everything that decides its identity, order and remaining budget. In-flight commands travel
 * as queued (their lease cannot move; the attempt the claim counted stays spent).
 */
export interface TransferRecord extends Pick<
  StoredCommand,
  'id' | 'phyId' | 'payload' | 'priority' | 'attempts' | 'maxAttempts' | 'ackTimeoutMs' | 'createdAt' | 'expiresAt' | 'deliverAt' | 'idempotencyKey' | 'lastError'
> {
  ttlMs: number;
  status: 'queued' | 'dead';
}

/** What an import did with each record. */
export interface ImportReport {
  inserted: number;
  /** Already in the target (an earlier run got this far): not written again. */
  existing: number;
}

interface ExportRow extends Pick<
  CommandRow,
  'seq' | 'id' | 'phy_id' | 'payload' | 'priority' | 'attempts' | 'max_attempts' | 'ack_timeout_ms' | 'created_at' | 'expires_at' | 'deliver_at' | 'idempotency_key' | 'last_error'
> {
  ttl_ms: string;
  status: string;
}

const ts = (param: string): string => `to_timestamp(${param}::float8 / 1000.0)`;

/** Export, import-with-id and removal of pending and dead commands on the PostgreSQL queue. */
export class PostgresTransfer {
  private readonly schema: SchemaName;
  private readonly commands: string;
  private readonly devices: string;

  constructor(
    private readonly pool: Pool,
    schema = 'outbound',
  ) {
    this.schema = schemaName(schema);
    this.commands = `${this.schema.quoted}.commands`;
    this.devices = `${this.schema.quoted}.devices`;
  }

  /** Pending and dead commands, in enqueue order (seq), after `afterSeq`. */
  async exportBatch(afterSeq: string, limit: number): Promise<{ records: TransferRecord[]; lastSeq: string | null }> {
    const { rows } = await this.pool.query<ExportRow>(
      `SELECT seq, id, phy_id, payload, priority, attempts, max_attempts, ack_timeout_ms, ttl_ms, idempotency_key, status, last_error,
              ${ms('created_at')} AS created_at, ${ms('expires_at')} AS expires_at, ${ms('deliver_at')} AS deliver_at
       FROM ${this.commands} WHERE status IN ('queued', 'inflight', 'dead') AND seq > $1::bigint ORDER BY seq LIMIT $2`,
      [afterSeq, limit],
    );
    return {
      records: rows.map((r) => ({
        id: r.id,
        phyId: r.phy_id,
        payload: r.payload,
        priority: r.priority,
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        ackTimeoutMs: r.ack_timeout_ms,
        ttlMs: Number(r.ttl_ms),
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        deliverAt: r.deliver_at,
        idempotencyKey: r.idempotency_key,
        status: r.status === 'dead' ? 'dead' : 'queued',
        lastError: r.last_error,
      })),
      lastSeq: rows.length ? rows[rows.length - 1]!.seq : null,
    };
  }

  /**
   * Inserts records with their ids, in the order given (their seq follows it, so per-device and
   * FIFO order carry over). A record whose id exists is skipped, which makes a rerun after a
   * crash write nothing twice. One transaction per batch.
   */
  async import(records: TransferRecord[]): Promise<ImportReport> {
    if (records.length === 0) return { inserted: 0, existing: 0 };
    return withPgRetry(() =>
      inTransaction(this.pool, async (client) => {
        await client.query(
          `INSERT INTO ${this.devices} (phy_id) SELECT p FROM unnest($1::text[]) AS p ORDER BY p ON CONFLICT (phy_id) DO UPDATE SET updated_at = now()`,
          [[...new Set(records.map((r) => r.phyId))].sort()],
        );
        const { rows } = await client.query<{ id: string; phy_id: string; status: string; priority: number; seq: string }>(
          `INSERT INTO ${this.commands} (id, phy_id, payload, priority, attempts, max_attempts, ack_timeout_ms, ttl_ms, created_at, updated_at,
                                         expires_at, deliver_at, idempotency_key, status, last_error, run_at, wait_reason, finished_at)
           SELECT t.id, t.phy_id, t.payload, t.priority, t.attempts, t.max_attempts, t.ack_timeout_ms, t.ttl_ms, ${ts('t.created_ms')}, now(),
                  ${ts('t.expires_ms')}, ${ts('t.deliver_ms')}, t.idem, t.status, t.last_error,
                  greatest(now(), coalesce(${ts('t.deliver_ms')}, now())),
                  CASE WHEN ${ts('t.deliver_ms')} > now() THEN 'schedule' END,
                  CASE WHEN t.status = 'dead' THEN now() END
           FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::int[], $5::int[], $6::int[], $7::int[], $8::bigint[], $9::float8[],
                       $10::float8[], $11::float8[], $12::text[], $13::text[], $14::text[])
                WITH ORDINALITY AS t(id, phy_id, payload, priority, attempts, max_attempts, ack_timeout_ms, ttl_ms, created_ms,
                                     expires_ms, deliver_ms, idem, status, last_error, ord)
           ORDER BY t.ord
           ON CONFLICT (id) DO NOTHING
           RETURNING id, phy_id, status, priority, seq`,
          [
            records.map((r) => r.id), records.map((r) => r.phyId), records.map((r) => r.payload), records.map((r) => r.priority),
            records.map((r) => r.attempts), records.map((r) => r.maxAttempts), records.map((r) => r.ackTimeoutMs), records.map((r) => r.ttlMs),
            records.map((r) => r.createdAt), records.map((r) => r.expiresAt), records.map((r) => r.deliverAt), records.map((r) => r.idempotencyKey),
            records.map((r) => r.status), records.map((r) => r.lastError),
          ],
        );
        const queued = rows.filter((r) => r.status === 'queued');
        if (queued.length > 0) {
          await client.query(
            `UPDATE ${this.devices} d SET queued = d.queued + n.c, ${MERGE_HEAD}
             FROM ${arrivals('unnest($1::text[], $2::int[], $3::bigint[]) AS a(phy_id, priority, seq)')} n WHERE d.phy_id = n.phy_id`,
            [queued.map((r) => r.phy_id), queued.map((r) => r.priority), queued.map((r) => r.seq)],
          );
          await client.query('SELECT pg_notify($1, $2)', [this.schema.workChannel, 'import']);
        }
        return { inserted: rows.length, existing: records.length - rows.length };
      }),
    ).catch((error: unknown) => {
      if ((error as { code?: string }).code === '23505') {
        throw new OutboundError('INVALID_STATE', `import hit an idempotency key already used by another command of the same device: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    });
  }

  /** Deletes pending and dead commands by id (after they reached the other backend). */
  async remove(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const { rows } = await withPgRetry(() =>
      this.pool.query<{ n: number }>(
        `WITH gone AS (
           DELETE FROM ${this.commands} WHERE id = ANY($1::uuid[]) AND status IN ('queued', 'inflight', 'dead') RETURNING id, phy_id, status
         ), bumped AS (
           UPDATE ${this.devices} d SET queued = d.queued - n.c, ${RECOMPUTE_HEAD}
           FROM ${departures("(SELECT id, phy_id FROM gone WHERE status = 'queued') q", this.commands)} n WHERE d.phy_id = n.phy_id
         )
         SELECT count(*)::int AS n FROM gone`,
        [ids],
      ),
    );
    return rows[0]?.n ?? 0;
  }

  /** Pending (queued and in flight) and dead counts. */
  async counts(): Promise<{ pending: number; dead: number }> {
    const { rows } = await this.pool.query<{ pending: number; dead: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('queued', 'inflight'))::int AS pending, count(*) FILTER (WHERE status = 'dead')::int AS dead
       FROM ${this.commands} WHERE status IN ('queued', 'inflight', 'dead')`,
    );
    return rows[0]!;
  }
}
