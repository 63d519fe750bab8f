import type { Pool } from 'pg';
import { PgListener } from '../queue/postgres/pg-listener';
import { prepared } from '../queue/postgres/queue-context';
import { withPgRetry } from '../queue/postgres/retry';
import { schemaName, type SchemaName } from '../queue/postgres/schema-name';
import type { CredentialStore, DeviceCredential } from './credential-store';
import { assertDeviceKey } from './credential-key';

export interface PostgresCredentialStoreOptions {
  pool: Pool;
  /** Schema holding `device_credentials` (migration 0004). Default `outbound`. */
  schema?: string;
}

/**
 * The store's statements, named (prepared) and keyed through scalar subqueries like the route
 * registry's (postgres-route-registry.ts): planned once per connection, not on every call (a
 * device's key is read on every connection it opens).
 */
function credentialStatements(table: string) {
  return {
    get: prepared('credential_get', `SELECT key, revoked_at IS NOT NULL AS revoked FROM ${table} WHERE phy_id = (SELECT $1::text)`),
    setKey: prepared(
      'credential_set',
      `INSERT INTO ${table} (phy_id, key) VALUES ($1, $2)
       ON CONFLICT (phy_id) DO UPDATE SET key = EXCLUDED.key, updated_at = now()`,
    ),
    deleteKey: prepared(
      'credential_delete',
      `UPDATE ${table} c SET key = NULL, updated_at = now()
       FROM (SELECT phy_id, key IS NOT NULL AS had FROM ${table} WHERE phy_id = (SELECT $1::text) FOR UPDATE) old
       WHERE c.phy_id = old.phy_id RETURNING old.had`,
    ),
    revoke: prepared(
      'credential_revoke',
      `WITH stored AS (
         INSERT INTO ${table} (phy_id, revoked_at) VALUES ($1, now())
         ON CONFLICT (phy_id) DO UPDATE SET revoked_at = coalesce(${table}.revoked_at, now()), updated_at = now()
         RETURNING phy_id)
       SELECT pg_notify($2, phy_id) FROM stored`,
    ),
    unrevoke: prepared(
      'credential_unrevoke',
      `UPDATE ${table} c SET revoked_at = NULL, updated_at = now()
       FROM (SELECT phy_id, revoked_at IS NOT NULL AS had FROM ${table} WHERE phy_id = (SELECT $1::text) FOR UPDATE) old
       WHERE c.phy_id = old.phy_id RETURNING old.had`,
    ),
  };
}

/**
 * CredentialStore on PostgreSQL: one row per device with a provisioned key or a revocation.
 * A revocation's NOTIFY is sent by the statement that stores it, so listeners hear it at
 * COMMIT and never before the row reads revoked.
 */
export class PostgresCredentialStore implements CredentialStore {
  private readonly pool: Pool;
  private readonly schema: SchemaName;
  private readonly sql: ReturnType<typeof credentialStatements>;
  private readonly revokedChannel: string;
  private readonly listener: PgListener;

  constructor(options: PostgresCredentialStoreOptions) {
    this.pool = options.pool;
    this.schema = schemaName(options.schema ?? 'outbound');
    this.sql = credentialStatements(`${this.schema.quoted}.device_credentials`);
    this.revokedChannel = `${this.schema.name}:revoked`;
    this.listener = new PgListener(this.pool);
  }

  async get(phyId: string): Promise<DeviceCredential> {
    const { rows } = await withPgRetry(() =>
      this.pool.query<{ key: Buffer | null; revoked: boolean }>(this.sql.get([phyId])),
    );
    return { key: rows[0]?.key ?? null, revoked: rows[0]?.revoked ?? false };
  }

  async setKey(phyId: string, key: Buffer): Promise<void> {
    assertDeviceKey(key);
    await withPgRetry(() =>
      this.pool.query(this.sql.setKey([phyId, key])),
    );
  }

  async deleteKey(phyId: string): Promise<boolean> {
    const { rows } = await withPgRetry(() =>
      this.pool.query<{ had: boolean }>(this.sql.deleteKey([phyId])),
    );
    return rows[0]?.had ?? false;
  }

  async revoke(phyId: string): Promise<void> {
    await withPgRetry(() =>
      this.pool.query(this.sql.revoke([phyId, this.revokedChannel])),
    );
  }

  async unrevoke(phyId: string): Promise<boolean> {
    const { rows } = await withPgRetry(() =>
      this.pool.query<{ had: boolean }>(this.sql.unrevoke([phyId])),
    );
    return rows[0]?.had ?? false;
  }

  async onRevoked(listener: (phyId: string) => void): Promise<{ stop(): Promise<void> }> {
    const stop = await this.listener.subscribe(this.revokedChannel, listener);
    return { stop };
  }

  async close(): Promise<void> {
    await this.listener.close();
  }
}
