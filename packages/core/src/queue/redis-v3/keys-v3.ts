import { RedisKeys } from '../redis/keys';

/**
 * Every Redis key of the v3 layout (lua/includes/v3.lua names the per-command and per-device
 * keys from the shard prefix the same way). Layout: `<prefix>:v3:{<shard>}:...`: the hash tag
 * is still the shard number, so a shard's keys share one cluster slot, and devices and ids map
 * to shards as in the v2 layout (RedisKeys). docs/redis-keys.md describes each key.
 */
export class RedisKeysV3 {
  private readonly placement: RedisKeys;
  private readonly keyLists: string[][] = [];

  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {
    this.placement = new RedisKeys(prefix, shards);
  }

  shardOf(phyId: string): number {
    return this.placement.shardOf(phyId);
  }

  newCommandId(shard: number): string {
    return this.placement.newCommandId(shard);
  }

  shardOfId(id: string): number | null {
    return this.placement.shardOfId(id);
  }

  shardPrefix(shard: number): string {
    return `${this.prefix}:v3:{${shard}}:`;
  }

  /** KEYS[1..10] of every v3 shard script. */
  shardKeyList(shard: number): string[] {
    let list = this.keyLists[shard];
    if (!list) {
      const p = this.shardPrefix(shard);
      list = [p, 'ready', 'dev', 'meta', 'leases', 'scheduled', 'backoff', 'expiry', 'dead', 'offline'].map((name, i) => (i === 0 ? p : p + name));
      this.keyLists[shard] = list;
    }
    return [...list];
  }

  ready(shard: number): string {
    return `${this.shardPrefix(shard)}ready`;
  }

  scheduled(shard: number): string {
    return `${this.shardPrefix(shard)}scheduled`;
  }

  backoff(shard: number): string {
    return `${this.shardPrefix(shard)}backoff`;
  }

  offline(shard: number): string {
    return `${this.shardPrefix(shard)}offline`;
  }

  /** hash phyId -> packed device state (pending, offline, backoff, in-flight entries). */
  devices(shard: number): string {
    return `${this.shardPrefix(shard)}dev`;
  }

  /** A claim batch: hash `ids` (concatenated), `left` (still holding the lease). */
  claimRequest(shard: number, token: string): string {
    return `${this.shardPrefix(shard)}claim:${token}`;
  }

  command(id: string): string | null {
    const shard = this.shardOfId(id);
    return shard === null ? null : `${this.shardPrefix(shard)}c:${id}`;
  }

  /** zset id -> score: the device's queued commands in delivery order. */
  deviceLine(phyId: string): string {
    return `${this.shardPrefix(this.shardOf(phyId))}line:${phyId}`;
  }

  wakeChannel(): string {
    return `${this.prefix}:v3:wake`;
  }
}
