import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { classified } from '../queue/postgres/classify-error';
import { inTransaction } from '../queue/postgres/pool';
import { PgListener } from '../queue/postgres/pg-listener';
import { prepared } from '../queue/postgres/queue-context';
import { withPgRetry } from '../queue/postgres/retry';
import { schemaName, type SchemaName } from '../queue/postgres/schema-name';
import type { DeviceRoute, DispatcherInfo, ReplicaInfo, RouteRegistry } from './route-registry';

export interface PostgresRouteRegistryOptions {
  pool: Pool;
  /** Schema holding `routes` and `replicas` (migration 0002) and `dispatchers` (0011). Default `outbound`. */
  schema?: string;
}

interface RouteRow {
  phy_id: string;
  replica_id: string;
  address: string;
  epoch: string;
  connected_at: number;
}

const ROUTE_COLUMNS = `r.phy_id, r.replica_id, r.address, r.epoch, floor(extract(epoch FROM r.connected_at) * 1000)::float8 AS connected_at`;

/**
 * The registry's statements, named (prepared): parsed once per connection and, from their sixth
 * call on, run on the generic plan, where unnamed ones were parsed and planned on every call (a
 * register is four statements per device connection). Arguments a row estimate could depend on
 * are read through scalar subqueries, `(SELECT $1::text)`, as the queue's statements do
 * (docs/postgres.md): the planner then costs the same plan whatever the values, so a custom plan
 * never looks cheaper than the generic one (a lookup of one device otherwise did, and was planned
 * anew each time). findRoutes stays unnamed: its plan depends on the prefix it searches for.
 */
function routeStatements(schema: SchemaName) {
  const routes = `${schema.quoted}.routes`;
  const replicas = `${schema.quoted}.replicas`;
  const dispatchers = `${schema.quoted}.dispatchers`;
  return {
    heartbeat: prepared(
      'replica_heartbeat',
      `INSERT INTO ${replicas} (replica_id, address, heartbeat_at, expires_at)
       VALUES ($1, $2, now(), now() + make_interval(secs => $3::float8 / 1000.0))
       ON CONFLICT (replica_id) DO UPDATE SET address = EXCLUDED.address, heartbeat_at = now(), expires_at = EXCLUDED.expires_at`,
    ),
    clearReplicaRoutes: prepared('replica_clear_routes', `UPDATE ${routes} SET replica_id = NULL, address = NULL, token = NULL WHERE replica_id = (SELECT $1::text)`),
    deleteReplica: prepared('replica_delete', `DELETE FROM ${replicas} WHERE replica_id = (SELECT $1::text)`),
    createRoute: prepared('route_create', `INSERT INTO ${routes} (phy_id) VALUES ($1) ON CONFLICT (phy_id) DO NOTHING`),
    lockRoute: prepared('route_lock', `SELECT ${ROUTE_COLUMNS}, r.token FROM ${routes} r WHERE r.phy_id = (SELECT $1::text) FOR UPDATE`),
    setRoute: prepared(
      'route_set',
      `UPDATE ${routes} SET epoch = epoch + 1, replica_id = $2, address = $3, connected_at = now(), token = $4
       WHERE phy_id = (SELECT $1::text) RETURNING epoch`,
    ),
    notifyRegistered: prepared('route_notify', `SELECT pg_notify($1, $2), CASE WHEN $4::text IS NOT NULL THEN pg_notify($3, $4) END`),
    unregister: prepared(
      'route_unregister',
      `UPDATE ${routes} SET replica_id = NULL, address = NULL, token = NULL
       WHERE phy_id = (SELECT $1::text) AND replica_id = (SELECT $2::text) AND epoch = (SELECT $3::bigint)`,
    ),
    lookupMany: prepared(
      'route_lookup',
      `SELECT ${ROUTE_COLUMNS} FROM ${routes} r
       JOIN ${replicas} p ON p.replica_id = r.replica_id AND p.expires_at > now()
       WHERE r.phy_id = ANY ((SELECT $1::text[])::text[])`,
    ),
    listReplicas: prepared(
      'replica_list',
      `SELECT replica_id, address, floor(extract(epoch FROM heartbeat_at) * 1000)::float8 AS heartbeat_at
       FROM ${replicas} WHERE expires_at > now() ORDER BY replica_id`,
    ),
    pruneDispatchers: prepared('dispatcher_prune', `DELETE FROM ${dispatchers} WHERE expires_at <= now() AND dispatcher_id <> (SELECT $1::text)`),
    dispatcherHeartbeat: prepared(
      'dispatcher_heartbeat',
      `INSERT INTO ${dispatchers} (dispatcher_id, started_at, last_seen_at, expires_at)
       VALUES ($1, to_timestamp($2::float8 / 1000.0), now(), now() + make_interval(secs => $3::float8 / 1000.0))
       ON CONFLICT (dispatcher_id) DO UPDATE SET started_at = EXCLUDED.started_at, last_seen_at = now(), expires_at = EXCLUDED.expires_at`,
    ),
    deleteDispatcher: prepared('dispatcher_delete', `DELETE FROM ${dispatchers} WHERE dispatcher_id = (SELECT $1::text)`),
    listDispatchers: prepared(
      'dispatcher_list',
      `SELECT dispatcher_id, floor(extract(epoch FROM started_at) * 1000)::float8 AS started_at,
              floor(extract(epoch FROM last_seen_at) * 1000)::float8 AS last_seen_at
       FROM ${dispatchers} WHERE expires_at > now() ORDER BY dispatcher_id`,
    ),
    countRoutes: prepared(
      'route_count',
      `SELECT r.replica_id, count(*)::int AS devices FROM ${routes} r
       JOIN ${replicas} p ON p.replica_id = r.replica_id AND p.expires_at > now()
       GROUP BY r.replica_id`,
    ),
  };
}

/**
 * RouteRegistry on PostgreSQL: one row per device (its epoch outlives the connection, so it
 * keeps growing across reconnects), replica liveness by heartbeat on the database clock, and
 * the device-online / superseded signals on LISTEN/NOTIFY (delivered at COMMIT, so a listener
 * never hears of a route it cannot read yet). Failures go through classifyPostgresError.
 */
export class PostgresRouteRegistry implements RouteRegistry {
  private readonly pool: Pool;
  private readonly schema: SchemaName;
  private readonly routes: string;
  private readonly replicas: string;
  private readonly sql: ReturnType<typeof routeStatements>;
  private readonly listener: PgListener;
  private readonly onlineChannel: string;
  private readonly supersededChannel: string;
  private readonly tokenBase = randomBytes(6).toString('hex');
  private tokenCounter = 0;

  constructor(options: PostgresRouteRegistryOptions) {
    this.pool = options.pool;
    this.schema = schemaName(options.schema ?? 'outbound');
    this.routes = `${this.schema.quoted}.routes`;
    this.replicas = `${this.schema.quoted}.replicas`;
    this.sql = routeStatements(this.schema);
    this.listener = new PgListener(this.pool);
    this.onlineChannel = `${this.schema.name}:device-online`;
    // One channel for every replica (payload names the replica): channel names are limited
    // to 63 bytes, replica ids are not.
    this.supersededChannel = `${this.schema.name}:superseded`;
  }

  heartbeat(replica: { replicaId: string; address: string }, ttlMs: number): Promise<void> {
    return classified('heartbeat', async () => {
      await withPgRetry(() =>
        this.pool.query(this.sql.heartbeat([replica.replicaId, replica.address, Math.max(1, Math.round(ttlMs))])),
      );
    });
  }

  removeReplica(replicaId: string): Promise<number> {
    return classified('removeReplica', async () => {
      return withPgRetry(() =>
        inTransaction(this.pool, async (client) => {
          const cleared = await client.query(this.sql.clearReplicaRoutes([replicaId]));
          await client.query(this.sql.deleteReplica([replicaId]));
          return cleared.rowCount ?? 0;
        }),
      );
    });
  }

  register(phyId: string, replica: { replicaId: string; address: string }): Promise<{ epoch: number; previous: DeviceRoute | null }> {
    return classified('register', async () => {
      const token = `${this.tokenBase}.${++this.tokenCounter}`;
      return withPgRetry(() =>
        inTransaction(this.pool, async (client) => {
          // Make sure the row exists, then lock its newest version: concurrent registers of one
          // device queue up here and each sees the route the previous one wrote.
          await client.query(this.sql.createRoute([phyId]));
          const current = await client.query<RouteRow & { token: string | null }>(this.sql.lockRoute([phyId]));
          const row = current.rows[0]!;
          if (row.token === token) return { epoch: Number(row.epoch), previous: null }; // our own commit, answered again
          const previous = row.replica_id === null ? null : toRoute(row);
          const updated = await client.query<{ epoch: string }>(this.sql.setRoute([phyId, replica.replicaId, replica.address, token]));
          const epoch = Number(updated.rows[0]!.epoch);
          await client.query(
            this.sql.notifyRegistered([
              this.onlineChannel,
              phyId,
              this.supersededChannel,
              previous ? JSON.stringify({ replicaId: previous.replicaId, phyId, epoch: previous.epoch }) : null,
            ]),
          );
          return { epoch, previous };
        }),
      );
    });
  }

  unregister(phyId: string, replicaId: string, epoch: number): Promise<boolean> {
    return classified('unregister', async () => {
      const result = await withPgRetry(() => this.pool.query(this.sql.unregister([phyId, replicaId, epoch])));
      return result.rowCount === 1;
    });
  }

  async lookup(phyId: string): Promise<DeviceRoute | null> {
    return (await this.lookupMany([phyId])).get(phyId) ?? null;
  }

  lookupMany(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    return classified('lookupMany', async () => {
      const result = new Map<string, DeviceRoute>();
      if (phyIds.length === 0) return result;
      const { rows } = await this.pool.query<RouteRow>(this.sql.lookupMany([[...new Set(phyIds)]]));
      for (const row of rows) result.set(row.phy_id, toRoute(row));
      return result;
    });
  }

  findRoutes(prefix: string, limit: number): Promise<DeviceRoute[]> {
    return classified('findRoutes', async () => {
      const { rows } = await this.pool.query<RouteRow>(
        `SELECT ${ROUTE_COLUMNS} FROM ${this.routes} r
         JOIN ${this.replicas} p ON p.replica_id = r.replica_id AND p.expires_at > now()
         WHERE starts_with(r.phy_id, $1)
         ORDER BY r.phy_id COLLATE "C" LIMIT $2`,
        [prefix, limit],
      );
      return rows.map(toRoute);
    });
  }

  listReplicas(): Promise<ReplicaInfo[]> {
    return classified('listReplicas', async () => {
      const { rows } = await this.pool.query<{ replica_id: string; address: string; heartbeat_at: number }>(this.sql.listReplicas());
      return rows.map((r) => ({ replicaId: r.replica_id, address: r.address, heartbeatAt: r.heartbeat_at }));
    });
  }

  dispatcherHeartbeat(dispatcher: { id: string; startedAt: number }, ttlMs: number): Promise<void> {
    return classified('dispatcherHeartbeat', async () => {
      await withPgRetry(() =>
        inTransaction(this.pool, async (client) => {
          // Killed dispatchers never delete their row: whoever beats clears the lapsed ones.
          await client.query(this.sql.pruneDispatchers([dispatcher.id]));
          await client.query(this.sql.dispatcherHeartbeat([dispatcher.id, Math.round(dispatcher.startedAt), Math.max(1, Math.round(ttlMs))]));
        }),
      );
    });
  }

  removeDispatcher(id: string): Promise<void> {
    return classified('removeDispatcher', async () => {
      await withPgRetry(() => this.pool.query(this.sql.deleteDispatcher([id])));
    });
  }

  listDispatchers(): Promise<DispatcherInfo[]> {
    return classified('listDispatchers', async () => {
      const { rows } = await this.pool.query<{ dispatcher_id: string; started_at: number; last_seen_at: number }>(this.sql.listDispatchers());
      return rows.map((r) => ({ id: r.dispatcher_id, startedAt: r.started_at, lastSeenAt: r.last_seen_at }));
    });
  }

  countRoutes(): Promise<Map<string, number>> {
    return classified('countRoutes', async () => {
      const { rows } = await this.pool.query<{ replica_id: string; devices: number }>(this.sql.countRoutes());
      return new Map(rows.map((r) => [r.replica_id, r.devices]));
    });
  }

  onDeviceOnline(listener: (phyId: string) => void): Promise<() => Promise<void>> {
    return classified('onDeviceOnline', () => this.listener.subscribe(this.onlineChannel, listener));
  }

  onSuperseded(replicaId: string, listener: (phyId: string, epoch: number) => void): Promise<() => Promise<void>> {
    return classified('onSuperseded', () => this.listener.subscribe(this.supersededChannel, (payload) => {
      try {
        const message = JSON.parse(payload) as { replicaId: string; phyId: string; epoch: number };
        if (message.replicaId === replicaId) listener(message.phyId, Number(message.epoch));
      } catch {
        // not ours: ignore
      }
    }));
  }

  async close(): Promise<void> {
    await this.listener.close();
  }
}

function toRoute(row: RouteRow): DeviceRoute {
  return { phyId: row.phy_id, replicaId: row.replica_id, address: row.address, epoch: Number(row.epoch), connectedAt: row.connected_at };
}
