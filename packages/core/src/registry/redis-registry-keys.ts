/**
 * Every Redis key and channel the route registry uses, built in this one module.
 *
 * Layout (Cluster-safe, no hot key):
 * - Routes live in `shards` hash-tagged shards chosen by phyId: `<prefix>:{reg-<s>}:routes`
 *   (phyId → route), `<prefix>:{reg-<s>}:epochs` (phyId → last epoch) and
 *   `<prefix>:{reg-<s>}:replica:<replicaId>` (the phyIds of that shard a replica holds, so a
 *   replica's routes can be removed shard by shard). A script touches one shard, so one slot.
 * - Replica liveness lives in one slot: `<prefix>:{reg-replicas}:info` (replicaId → JSON) and
 *   `<prefix>:{reg-replicas}:alive:<replicaId>` (expires after the heartbeat TTL).
 * - Dispatcher liveness: `<prefix>:{reg-replicas}:dispatchers` (dispatcher id → JSON with its
 *   start, last heartbeat and expiry).
 * - Device credentials live in the same shards: `<prefix>:{reg-<s>}:keys` (phyId → the
 *   provisioned 32-byte key, raw) and `<prefix>:{reg-<s>}:revoked` (set of revoked phyIds), so
 *   one device's credential read touches one slot.
 * - Channels: `<prefix>:registry:device-online` (message: phyId),
 *   `<prefix>:registry:superseded:<replicaId>` (message: `<epoch>:<phyId>`) and
 *   `<prefix>:registry:revoked` (message: phyId).
 */
export class RegistryKeys {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {
    if (!Number.isInteger(shards) || shards < 1 || shards > 16384) throw new RangeError(`shards must be an integer in 1..16384, got ${shards}`);
  }

  /** FNV-1a of the phyId, modulo the shard count: stable across processes and releases. */
  shardOf(phyId: string): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < phyId.length; i++) {
      hash ^= phyId.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % this.shards;
  }

  private shardTag(shard: number): string {
    return `${this.prefix}:{reg-${shard}}`;
  }

  routes(shard: number): string {
    return `${this.shardTag(shard)}:routes`;
  }

  epochs(shard: number): string {
    return `${this.shardTag(shard)}:epochs`;
  }

  replicaRoutes(shard: number, replicaId: string): string {
    return `${this.shardTag(shard)}:replica:${replicaId}`;
  }

  deviceKeys(shard: number): string {
    return `${this.shardTag(shard)}:keys`;
  }

  revokedDevices(shard: number): string {
    return `${this.shardTag(shard)}:revoked`;
  }

  replicaInfo(): string {
    return `${this.prefix}:{reg-replicas}:info`;
  }

  replicaAlive(replicaId: string): string {
    return `${this.prefix}:{reg-replicas}:alive:${replicaId}`;
  }

  dispatcherInfo(): string {
    return `${this.prefix}:{reg-replicas}:dispatchers`;
  }

  /** Prefix of every alive key, passed to scripts that check several replicas. */
  replicaAlivePrefix(): string {
    return `${this.prefix}:{reg-replicas}:alive:`;
  }

  deviceOnlineChannel(): string {
    return `${this.prefix}:registry:device-online`;
  }

  supersededChannel(replicaId: string): string {
    return `${this.prefix}:registry:superseded:${replicaId}`;
  }

  revokedChannel(): string {
    return `${this.prefix}:registry:revoked`;
  }
}
