import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QUEUE_DEFAULTS, RedisKeys, type ImportReport, type RedisClient, type TransferRecord } from '@outbound/core';

/** Beside this file in src/ and in dist/ (the build copies lua/ along, scripts/copy-assets.js). */
const LUA_DIR = path.join(__dirname, 'lua');
/** The queue's shared Lua include (keys, counters, refreshDevice, finish) from @outbound/core. */
const SHARD_INCLUDE = path.join(path.dirname(require.resolve('@outbound/core/package.json')), 'lua', 'includes', 'shard.lua');
const PRIORITY_STEP = 2 ** 49;
const CHUNK = 200;

function load(file: string): string {
  const include = readFileSync(SHARD_INCLUDE, 'utf8');
  return readFileSync(path.join(LUA_DIR, file), 'utf8').replace(/^--\s*@include\s+shard\s*$/m, () => include);
}

type ScriptFn = (...args: Array<string | number | Buffer>) => Promise<unknown>;

export interface RedisTransferOptions {
  prefix?: string;
  shards?: number;
  maxInFlightPerDevice?: number;
  retentionMs?: number;
}

/**
 * Export, import-with-id and removal on the Redis queue for `outbound migrate-queue`. It lives
 * here, beside the migration, with its own scripts; it keeps every index the same way the
 * queue's scripts do because it runs them with the queue's shard include.
 */
export class RedisTransfer {
  readonly keys: RedisKeys;
  private readonly maxInFlight: number;
  private readonly retentionMs: number;

  constructor(
    private readonly client: RedisClient,
    options: RedisTransferOptions = {},
  ) {
    this.keys = new RedisKeys(options.prefix ?? QUEUE_DEFAULTS.prefix, options.shards ?? QUEUE_DEFAULTS.shards);
    this.maxInFlight = options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice;
    this.retentionMs = options.retentionMs ?? QUEUE_DEFAULTS.retentionMs;
    if (!('outboundMigrateImport' in client)) client.defineCommand('outboundMigrateImport', { numberOfKeys: 10, lua: load('import-10.lua') });
    if (!('outboundMigrateRemove' in client)) client.defineCommand('outboundMigrateRemove', { numberOfKeys: 10, lua: load('remove-10.lua') });
  }

  /**
   * Every pending and dead command, in enqueue order across shards (createdAt, then the shard's
   * sequence), yielded in batches. Reads ids and order keys first, then the records batch by batch.
   */
  async *exportBatches(limit: number): AsyncGenerator<TransferRecord[]> {
    const order: Array<{ id: string; createdAt: number; seq: number }> = [];
    for (let shard = 0; shard < this.keys.shards; shard++) {
      const k = this.keys.shard(shard);
      const ids = [...(await this.client.zrange(k.expiry, 0, -1)), ...(await this.client.zrange(k.dead, 0, -1))];
      for (let i = 0; i < ids.length; i += CHUNK) {
        const part = ids.slice(i, i + CHUNK);
        const pipeline = this.client.pipeline();
        for (const id of part) pipeline.hmget(this.keys.command(id)!, 'createdAt', 'score');
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([, value], j) => {
          const [createdAt, score] = (value as Array<string | null>) ?? [];
          if (createdAt) order.push({ id: part[j]!, createdAt: Number(createdAt), seq: Number(score ?? 0) % PRIORITY_STEP });
        });
      }
    }
    order.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
    for (let i = 0; i < order.length; i += limit) {
      const part = order.slice(i, i + limit).map((o) => o.id);
      const byId = new Map<string, TransferRecord>();
      // One pipeline per shard: on a Redis Cluster a pipeline must stay in one slot.
      for (const [shard, ids] of groupByShard(this.keys, part)) {
        const pipeline = this.client.pipeline();
        for (const id of ids) pipeline.hgetallBuffer(`${this.keys.shardPrefix(shard)}cmd:${id}`);
        const replies = (await pipeline.exec()) ?? [];
        for (const [, value] of replies) {
          const record = toRecord(value as Record<string, Buffer> | null);
          if (record) byId.set(record.id, record);
        }
      }
      const records = part.map((id) => byId.get(id)).filter((r): r is TransferRecord => r !== undefined);
      if (records.length) yield records;
    }
  }

  /** Writes records with their ids (skipping ids already present), one script per shard and chunk, in the given order. */
  async import(records: TransferRecord[]): Promise<ImportReport> {
    const report: ImportReport = { inserted: 0, existing: 0 };
    const byShard = new Map<number, TransferRecord[]>();
    for (const r of records) {
      const shard = this.keys.shardOf(r.phyId);
      if (this.keys.shardOfId(r.id) !== shard) {
        throw new Error(`command ${r.id} (device ${r.phyId}) cannot keep its id on Redis with ${this.keys.shards} shards: its id names another shard`);
      }
      const list = byShard.get(shard) ?? [];
      list.push(r);
      byShard.set(shard, list);
    }
    const run = (this.client as unknown as Record<string, ScriptFn>).outboundMigrateImport!.bind(this.client);
    for (const [shard, list] of byShard) {
      for (let i = 0; i < list.length; i += CHUNK) {
        const chunk = list.slice(i, i + CHUNK);
        const args: Array<string | number | Buffer> = [this.maxInFlight, this.retentionMs, this.keys.wakeChannel(), chunk.length];
        for (const r of chunk) {
          args.push(r.id, r.phyId, r.payload, r.priority, r.attempts, r.maxAttempts, r.ackTimeoutMs, r.ttlMs, r.createdAt, r.expiresAt,
            r.deliverAt === null ? '' : Math.trunc(r.deliverAt), r.idempotencyKey ?? '', r.status, r.lastError ?? '');
        }
        const out = (await run(...this.keys.shardKeyList(shard), ...args)) as number[];
        for (const code of out) {
          if (Number(code) === 1) report.inserted++;
          else report.existing++;
        }
      }
    }
    return report;
  }

  async remove(ids: string[]): Promise<number> {
    const byShard = groupByShard(this.keys, ids);
    const run = (this.client as unknown as Record<string, ScriptFn>).outboundMigrateRemove!.bind(this.client);
    let removed = 0;
    for (const [shard, list] of byShard) {
      for (let i = 0; i < list.length; i += CHUNK) {
        const chunk = list.slice(i, i + CHUNK);
        removed += Number(await run(...this.keys.shardKeyList(shard), this.maxInFlight, chunk.length, ...chunk));
      }
    }
    return removed;
  }

  async counts(): Promise<{ pending: number; dead: number }> {
    let pending = 0;
    let dead = 0;
    for (let shard = 0; shard < this.keys.shards; shard++) {
      const k = this.keys.shard(shard);
      pending += await this.client.zcard(k.expiry);
      dead += await this.client.zcard(k.dead);
    }
    return { pending, dead };
  }
}

function groupByShard(keys: RedisKeys, ids: string[]): Map<number, string[]> {
  const byShard = new Map<number, string[]>();
  for (const id of ids) {
    const shard = keys.shardOfId(id);
    if (shard === null) continue;
    const list = byShard.get(shard) ?? [];
    list.push(id);
    byShard.set(shard, list);
  }
  return byShard;
}

function toRecord(f: Record<string, Buffer> | null): TransferRecord | null {
  if (!f || !f.id) return null;
  const s = (name: string): string => f[name]?.toString() ?? '';
  const n = (name: string): number => Number(s(name) || 0);
  const status = s('status');
  if (status !== 'queued' && status !== 'inflight' && status !== 'dead') return null;
  return {
    id: s('id'),
    phyId: s('phyId'),
    payload: f.payload ?? Buffer.alloc(0),
    priority: n('priority'),
    attempts: n('attempts'),
    maxAttempts: n('maxAttempts'),
    ackTimeoutMs: n('ackTimeoutMs'),
    ttlMs: n('ttlMs'),
    createdAt: n('createdAt'),
    expiresAt: n('expiresAt'),
    deliverAt: s('deliverAt') === '' ? null : n('deliverAt'),
    idempotencyKey: s('idempotencyKey') || null,
    status: status === 'dead' ? 'dead' : 'queued',
    lastError: s('lastError') || null,
  };
}
