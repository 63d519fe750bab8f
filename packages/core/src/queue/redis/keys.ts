import { randomUUID } from 'node:crypto';

/**
 * Every Redis key the queue uses is built here (the Lua in lua/includes/shard.lua derives the
 * per-command and per-device names from the shard prefix the same way; a test checks both agree).
 *
 * Layout: `<prefix>:{<shard>}:...`. The hash tag is the shard number, so every key a script
 * touches for one shard lives in one cluster slot, and 16 shards spread over the masters.
 * A device always maps to one shard (FNV-1a of its phyId), so its line, its in-flight set
 * and its commands sit together. docs/redis-keys.md describes each key.
 */

/** The ten shard-level keys, in the order every per-shard script takes them as KEYS[1..10]. */
export interface ShardKeys {
  prefix: string;
  ready: string;
  scheduled: string;
  backoff: string;
  offline: string;
  leases: string;
  expiry: string;
  dead: string;
  meta: string;
  deviceCounts: string;
}

/** 32-bit FNV-1a: stable across processes and releases (never change it: it places data). */
export function fnv1a32(value: string): number {
  let hash = 0x811c9dc5;
  // An ASCII text is its own UTF-8: hashed from its characters, without a Buffer per call
  // (it runs twice per enqueued command: for its id and for its shard's batch).
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0x7f) return fnv1a32Utf8(value);
    hash ^= code;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function fnv1a32Utf8(value: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(value, 'utf8');
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class RedisKeys {
  private readonly keyLists: string[][] = [];

  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {
    if (!Number.isInteger(shards) || shards < 1 || shards > 0xffff) throw new RangeError(`shards must be 1..65535, got ${shards}`);
    if (/[{}]/.test(prefix)) throw new RangeError(`prefix must not contain braces (it would change the hash tag): ${prefix}`);
  }

  shardOf(phyId: string): number {
    return fnv1a32(phyId) % this.shards;
  }

  /**
   * A UUID (v4 layout) whose first 4 hex digits carry the shard, so `get(id)` finds the
   * command without an index. 106 random bits remain.
   */
  newCommandId(shard: number): string {
    return shard.toString(16).padStart(4, '0') + randomUUID().slice(4);
  }

  /** The shard an id was created in, or null when the id is not one of ours. */
  shardOfId(id: string): number | null {
    if (!ID_PATTERN.test(id)) return null;
    const shard = parseInt(id.slice(0, 4), 16);
    return shard < this.shards ? shard : null;
  }

  shardPrefix(shard: number): string {
    return `${this.prefix}:{${shard}}:`;
  }

  shard(shard: number): ShardKeys {
    const p = this.shardPrefix(shard);
    return {
      prefix: p,
      ready: `${p}ready`,
      scheduled: `${p}scheduled`,
      backoff: `${p}backoff`,
      offline: `${p}offline`,
      leases: `${p}leases`,
      expiry: `${p}expiry`,
      dead: `${p}dead`,
      meta: `${p}meta`,
      deviceCounts: `${p}device-counts`,
    };
  }

  /** KEYS[1..10] of every per-shard script (built once per shard: every script call needs them). */
  shardKeyList(shard: number): string[] {
    let list = this.keyLists[shard];
    if (!list) {
      const k = this.shard(shard);
      list = [k.prefix, k.ready, k.scheduled, k.backoff, k.offline, k.leases, k.expiry, k.dead, k.meta, k.deviceCounts];
      this.keyLists[shard] = list;
    }
    return [...list];
  }

  /** The claim request's memory (KEYS[11] of claim): what it claimed, for a re-sent script. */
  claimRequest(shard: number, requestId: string): string {
    return `${this.shardPrefix(shard)}claim:${requestId}`;
  }

  command(id: string): string | null {
    const shard = this.shardOfId(id);
    return shard === null ? null : `${this.shardPrefix(shard)}cmd:${id}`;
  }

  /** zset id -> score: the device's queued commands in delivery order. */
  deviceLine(phyId: string): string {
    return `${this.shardPrefix(this.shardOf(phyId))}dev:${phyId}:line`;
  }

  /** set of the device's in-flight command ids. */
  deviceInflight(phyId: string): string {
    return `${this.shardPrefix(this.shardOf(phyId))}dev:${phyId}:inflight`;
  }

  /** zset id -> deliverAt: the device's commands that are not due yet. */
  deviceScheduled(phyId: string): string {
    return `${this.shardPrefix(this.shardOf(phyId))}dev:${phyId}:scheduled`;
  }

  /**
   * string -> first command id for an idempotency key (scope: one device). The phyId's length
   * leads, so no (phyId, key) pair shares a name with another (a phyId may contain ':').
   */
  idempotency(phyId: string, key: string): string {
    return `${this.shardPrefix(this.shardOf(phyId))}idem:${phyId.length}:${phyId}:${key}`;
  }

  /** A fresh command id for a command of this device: the id names the device's shard. */
  newCommandIdFor(phyId: string): string {
    return this.newCommandId(this.shardOf(phyId));
  }

  /** stream: the shard's event log (lua/includes/shard.lua logEvent), one entry per transition. */
  events(shard: number): string {
    return `${this.shardPrefix(shard)}ev`;
  }

  /** Pub/sub channel (not a key) on which scripts announce work that became ready. */
  wakeChannel(): string {
    return `${this.prefix}:wake`;
  }
}
