/** Where a connected device lives: the ingress replica and the connection's epoch. */
export interface DeviceRoute {
  phyId: string;
  replicaId: string;
  /** Grows with every new connection of this phyId; fences stale connections and deliveries. */
  epoch: number;
  /** The replica's internal delivery base URL, e.g. `http://10.0.0.7:8081`. */
  address: string;
  connectedAt: number;
}

export interface ReplicaInfo {
  replicaId: string;
  address: string;
  heartbeatAt: number;
}

/** A running dispatcher whose heartbeat has not lapsed (times in ms since the epoch, store clock). */
export interface DispatcherInfo {
  id: string;
  startedAt: number;
  lastSeenAt: number;
}

/**
 * The device route registry: phyId → {replica, epoch}, replica liveness, and the signals that
 * tell dispatchers a device came online and tell a replica its connection was superseded.
 * Implemented on Redis and on PostgreSQL.
 */
export interface RouteRegistry {
  /** Records or refreshes this replica's liveness with its delivery address; lapses after `ttlMs`. */
  heartbeat(replica: { replicaId: string; address: string }, ttlMs: number): Promise<void>;
  /** Removes this replica's liveness and every route that still names it. */
  removeReplica(replicaId: string): Promise<number>;

  /**
   * Records a new connection (after WELCOME). Answers its epoch and the route it replaced, and
   * publishes "superseded" to the previous replica and "device online" to dispatchers.
   */
  register(phyId: string, replica: { replicaId: string; address: string }): Promise<{ epoch: number; previous: DeviceRoute | null }>;
  /** Removes the route only if it still names this replica and epoch (fencing). */
  unregister(phyId: string, replicaId: string, epoch: number): Promise<boolean>;

  /** The live route, or null when none or its replica's heartbeat lapsed (reads as offline). */
  lookup(phyId: string): Promise<DeviceRoute | null>;
  lookupMany(phyIds: string[]): Promise<Map<string, DeviceRoute>>;
  /**
   * Live routes whose phyId starts with `prefix` (an operator's search), sorted by phyId, at
   * most `limit`. Redis scans the route shards until it has `limit` matches (so not necessarily
   * the first by phyId); PostgreSQL answers the first `limit` by phyId.
   */
  findRoutes(prefix: string, limit: number): Promise<DeviceRoute[]>;
  listReplicas(): Promise<ReplicaInfo[]>;

  /** Records or refreshes a dispatcher's liveness; lapses after `ttlMs`. */
  dispatcherHeartbeat(dispatcher: { id: string; startedAt: number }, ttlMs: number): Promise<void>;
  /** Removes a dispatcher's liveness (clean stop). */
  removeDispatcher(id: string): Promise<void>;
  /** The dispatchers whose heartbeat has not lapsed, by id. */
  listDispatchers(): Promise<DispatcherInfo[]>;
  /**
   * How many devices each live replica holds (replicas with none are absent). Redis counts a
   * device that just moved on both replicas until the old connection closes.
   */
  countRoutes(): Promise<Map<string, number>>;

  /** Subscribes to "device online" signals. Returns an unsubscribe function. */
  onDeviceOnline(listener: (phyId: string) => void): Promise<() => Promise<void>>;
  /** Subscribes to "your connection for phyId at epoch was superseded" for one replica. */
  onSuperseded(replicaId: string, listener: (phyId: string, epoch: number) => void): Promise<() => Promise<void>>;

  close(): Promise<void>;
}
