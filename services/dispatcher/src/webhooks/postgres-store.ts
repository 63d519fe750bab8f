import { escapeIdentifier, type Pool } from 'pg';
import type { EventType } from '@outbound/core';
import { ATTEMPTS_KEPT, type StoredAttempt, type WebhookRecord, type WebhookStore } from './store';

interface WebhookRow {
  id: string;
  url: string;
  events: EventType[];
  phy_id_prefix: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_ms: string;
  secret: string;
}

/**
 * Webhooks in PostgreSQL (migration 0010, in the queue's schema): `webhooks`, `webhook_state`
 * (cursor and lease, judged by the database clock) and `webhook_deliveries` (recent attempts).
 */
export class PostgresWebhookStore implements WebhookStore {
  private readonly s: string;

  constructor(private readonly pool: Pool, schema: string) {
    this.s = escapeIdentifier(schema);
  }

  private get columns(): string {
    return `id, url, events, phy_id_prefix, enabled, disabled_reason, (extract(epoch FROM created_at) * 1000)::bigint AS created_ms, secret`;
  }

  async create(webhook: WebhookRecord, cursor: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${this.s}.webhooks (id, url, events, phy_id_prefix, enabled, disabled_reason, created_at, secret)
         VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), $8)`,
        [webhook.id, webhook.url, webhook.events, webhook.phyIdPrefix, webhook.enabled, webhook.disabledReason, webhook.createdAt, webhook.secret],
      );
      await client.query(`INSERT INTO ${this.s}.webhook_state (webhook_id, cursor) VALUES ($1, $2)`, [webhook.id, cursor]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async get(id: string): Promise<WebhookRecord | null> {
    const { rows } = await this.pool.query<WebhookRow>(`SELECT ${this.columns} FROM ${this.s}.webhooks WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(): Promise<WebhookRecord[]> {
    const { rows } = await this.pool.query<WebhookRow>(`SELECT ${this.columns} FROM ${this.s}.webhooks ORDER BY created_at, id`);
    return rows.map(toRecord);
  }

  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.s}.webhooks WHERE id = $1`, [id]);
    return (rowCount ?? 0) > 0;
  }

  async disable(id: string, reason: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.s}.webhooks SET enabled = false, disabled_reason = $2 WHERE id = $1`, [id, reason]);
  }

  async lease(id: string, owner: string, ms: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.s}.webhook_state SET lease_owner = $2, lease_until = now() + make_interval(secs => $3 / 1000.0)
       WHERE webhook_id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())`,
      [id, owner, ms],
    );
    return (rowCount ?? 0) > 0;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.s}.webhook_state SET lease_owner = NULL, lease_until = NULL WHERE webhook_id = $1 AND lease_owner = $2`, [id, owner]);
  }

  async cursor(id: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ cursor: string }>(`SELECT cursor FROM ${this.s}.webhook_state WHERE webhook_id = $1`, [id]);
    return rows[0]?.cursor ?? null;
  }

  async saveCursor(id: string, owner: string, cursor: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.s}.webhook_state SET cursor = $3 WHERE webhook_id = $1 AND lease_owner = $2 AND lease_until >= now()`,
      [id, owner, cursor],
    );
    return (rowCount ?? 0) > 0;
  }

  async recordAttempts(id: string, attempts: StoredAttempt[]): Promise<void> {
    if (attempts.length === 0) return;
    // Only for a webhook that still exists; then the oldest beyond the kept number go.
    await this.pool.query(
      `WITH added AS (
         INSERT INTO ${this.s}.webhook_deliveries (webhook_id, event_id, attempt, at, status_code, error, duration_ms)
         SELECT w.id, a.event_id, a.attempt, to_timestamp(a.at / 1000.0), a.status_code, a.error, a.duration_ms
         FROM ${this.s}.webhooks w,
              unnest($2::text[], $3::int[], $4::float8[], $5::int[], $6::text[], $7::int[]) AS a(event_id, attempt, at, status_code, error, duration_ms)
         WHERE w.id = $1
         RETURNING seq
       )
       DELETE FROM ${this.s}.webhook_deliveries
       WHERE webhook_id = $1 AND seq <= (SELECT seq FROM ${this.s}.webhook_deliveries WHERE webhook_id = $1 ORDER BY seq DESC OFFSET $8 LIMIT 1)`,
      [
        id, attempts.map((a) => a.eventId), attempts.map((a) => a.attempt), attempts.map((a) => a.at),
        attempts.map((a) => a.statusCode), attempts.map((a) => a.error), attempts.map((a) => a.durationMs), Math.max(0, ATTEMPTS_KEPT - attempts.length),
      ],
    );
  }

  async attempts(id: string): Promise<StoredAttempt[]> {
    const { rows } = await this.pool.query<{ event_id: string; attempt: number; at_ms: string; status_code: number | null; error: string | null; duration_ms: number }>(
      `SELECT event_id, attempt, (extract(epoch FROM at) * 1000)::bigint AS at_ms, status_code, error, duration_ms
       FROM ${this.s}.webhook_deliveries WHERE webhook_id = $1 ORDER BY seq DESC LIMIT $2`,
      [id, ATTEMPTS_KEPT],
    );
    return rows.map((r) => ({ eventId: r.event_id, attempt: r.attempt, at: Number(r.at_ms), statusCode: r.status_code, error: r.error, durationMs: r.duration_ms }));
  }
}

function toRecord(row: WebhookRow): WebhookRecord {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    phyIdPrefix: row.phy_id_prefix,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    createdAt: Number(row.created_ms),
    secret: row.secret,
  };
}
