import { randomUUID } from 'node:crypto';
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

  /**
   * The v2 id (shard in its first 4 hex digits, then random) with the creation minute in hex
   * digits 5-11 and version nibble 7: a finished command's bucket is found from its id alone
   * (finished()). 76 random bits stay, per shard and minute.
   */
  newCommandId(shard: number, nowMs: number = Date.now()): string {
    const minute = Math.floor(nowMs / 60_000).toString(16).padStart(7, '0').slice(-7);
    const random = randomUUID();
    return `${shard.toString(16).padStart(4, '0')}${minute.slice(0, 4)}-${minute.slice(4)}${random.slice(12, 13)}-7${random.slice(15)}`;
  }

  /** The hash (and its field) that holds id once finished, or null for an id without a minute. */
  finished(id: string): { bucket: string; field: string } | null {
    const shard = this.shardOfId(id);
    if (shard === null || id[14] !== '7') return null;
    return { bucket: `${this.shardPrefix(shard)}f:${id.slice(4, 8)}${id.slice(9, 12)}`, field: id.slice(12) };
  }

  shardOfId(id: string): number | null {
    return this.placement.shardOfId(id);
  }

  shardPrefix(shard: number): string {
    return `${this.prefix}:v3:{${shard}}:`;
  }

  /** KEYS of every v3 shard script: the shard prefix alone (the Lua names the shard's keys from it). */
  shardKeyList(shard: number): string[] {
    let list = this.keyLists[shard];
    if (!list) {
      list = [this.shardPrefix(shard)];
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

  /** zset creation minute -> bytes its finished records hold (lua/includes/v3.lua expireBuckets; trim-finished reads it). */
  finishedBytes(shard: number): string {
    return `${this.shardPrefix(shard)}fbytes`;
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

  /** stream: the shard's event log (lua/includes/v3.lua logEvent), one entry per transition. */
  events(shard: number): string {
    return `${this.shardPrefix(shard)}ev`;
  }

  wakeChannel(): string {
    return `${this.prefix}:v3:wake`;
  }
}
