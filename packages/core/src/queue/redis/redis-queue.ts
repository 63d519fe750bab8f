import { repeatUntilShort } from './chunked';
import { randomUUID } from 'node:crypto';
import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type { RedisClient } from '../../redis/connection';
import { inOneWrite } from '../../redis/one-write';
import {
  QUEUE_DEFAULTS,
  type AckItem,
  type ClaimOptions,
  type ClaimedCommand,
  type CommandStore,
  type EnqueueResult,
  type FailItem,
  type LocalClaimer,
  type QueueCounts,
  type QueueOptions,
  type QueueStats,
  type ReleaseItem,
  type StoreEnqueueItem,
  type TransitionResult,
} from '../queue';
import { firstDepth, planClaim, type ShardScores } from './claim-plan';
import { RedisStoreBase } from './redis-store-base';
import { RedisKeys } from './keys';
import { toClaimReply, toStoredCommand, type ScoredClaim } from './records';
import { ScriptCode, scriptCodeToError } from './script-codes';
import { StoreError } from '../store-errors';
import type { IdempotencyRecord } from '../draining-queue';
import { classifyRedisError, outcomeUnknown } from './redis-errors';
import type { RedisLivenessOptions } from './redis-liveness';
import { QueueScripts, type QueueScriptName } from './scripts';
import { oldestReadyAge, oldestReadyReads, readWithTime } from './shard-reads';
import { WakeNotifier } from './wake-notifier';
import { assertPhyId, parseParkedCursor, withoutScore } from './queue-input';

export interface RedisQueueOptions extends QueueOptions {
  /** Quit the client on close(). Default false (the caller made it, the caller closes it). */
  ownsClient?: boolean;
  /** How long a claim request's answer is remembered for a re-sent script. Default 60 s. */
  claimMemoryMs?: number;
  /**
   * How long a read of every shard that found nothing ready stands (a short claim or a wait
   * within it does not read them all again; wake messages name the shards that changed
   * since). Default 100 ms, the plan's own freshness bound.
   * @internal for tests that must not depend on how fast the host is.
   */
  scanTtlMs?: number;
  /**
   * Enqueue answers STORE_FULL once Redis' used_memory reaches this share of maxmemory
   * (sampled at most once a second), so acks, claims and route writes keep the room left to
   * drain the queue. 0 turns admission off. Default 0.9.
   */
  admissionMaxMemoryRatio?: number;
  /** Refuse requests up front while Redis is not answering a PING (redis-liveness.ts); false: off. Default on. */
  liveness?: RedisLivenessOptions | false;
}

/** Items per script call: bounds the time one script holds Redis (a batch of 500 runs in ~2 ms). */
const CHUNK = 500;
const DEFAULT_LIMIT = 1_000;
/** A claim re-asks a shard it has not heard from for this long even when the plan gives it nothing. */
const PLAN_TTL_MS = 100;
/** A wait reuses a scan this fresh instead of scanning again (wake messages since then end the wait at once). */
const SCAN_REUSE_MS = 5;
/**
 * How long a scan that found nothing ready stands for every shard: a short claim within it
 * does not read every shard again (at 50 commands/s that read was ~32 ZRANGE + 13 ZCARD per
 * command). Work readied since then publishes a wake naming its shard, which the next plan
 * asks; a due time the scan saw pass ends it early; a missed wake waits at most this long.
 */
const SCAN_TTL_MS = PLAN_TTL_MS;

type Arg = string | number | Buffer;
/** Scripts after which a shard's known best scores (claim-plan.ts) may be wrong; claim and ack answer fresh ones. */
const CHANGES_CLAIMABLE = new Set<QueueScriptName>(['enqueue', 'fail', 'release', 'device-offline', 'device-online', 'cancel', 'cancel-device', 'replay-dead']);
type CodeReply = [number, string, string];

/**
 * The Redis store behind the queue layer (ValidatedQueue checks input first). Commands are spread over hash-tagged shards by device;
 * every transition is one Lua script on one shard (lua/*.lua, registered in scripts.ts),
 * batched per shard, so a call costs one script per shard it touches, not one per command.
 * Order: each device has a line (zset scored `(9 - priority) * 2^49 + shard sequence`), and
 * each shard a ready set of devices scored by their head, so a claim takes the best head
 * across devices; a device with maxInFlightPerDevice outstanding, a pending retry or parked
 * leaves the ready set until that ends.
 */
export class RedisQueue extends RedisStoreBase implements CommandStore {
  readonly keys: RedisKeys;
  private readonly scripts: QueueScripts;
  private readonly notifier: WakeNotifier;
  private readonly maxInFlight: number;
  private readonly perDeviceCap: number;
  private readonly shardCap: number;
  private readonly retentionMs: number;
  private readonly backoff: { baseMs: number; maxMs: number; jitter: number };
  private readonly claimMemoryMs: number;
  private readonly scanTtlMs: number;
  private closed = false;
  /** Each shard's best claimable scores from its last claim/ack reply (claim-plan.ts); a shard is dropped when another call changed it. */
  private readonly shardScores = new Map<number, ShardScores>();
  /** Tells this queue's wake messages from other processes' (lua/includes/shard.lua publishWake). */
  private readonly origin = randomUUID().slice(0, 8);
  /** The wake argument scripts take: the channel and this queue's origin. */
  private readonly wakeArg: string;
  /** The last scan of every shard's ready set and due times (nextWorkInMs), reused by a wait right after it. */
  private lastScan: { at: number; inMs: number | null } | null = null;
  /** How many scores claim and ack replies answer: set by the last claim's size. */
  private planDepth = 0;
  /** A waitForWork came after the last claim: this claimer waits when it comes back short. */
  private waitedSinceClaim = false;
  /** This claimer has waited for work (waitForWork) at least once: it waits whenever a claim comes back short. */
  private waitsWhenShort = false;
  /**
   * The last claim handed back what its first round took without reading every shard for
   * more: the wait after it reads them first (waitForWork), so ready work it left is not left waiting.
   */
  private scanOwed = false;
  /** The dispatch loop of this process that takes what an enqueue claims in its own script (none: enqueues only enqueue). */
  private localClaimer: LocalClaimer | null = null;

  constructor(
    client: RedisClient,
    private readonly options: RedisQueueOptions = {},
  ) {
    super(client, options);
    this.keys = new RedisKeys(options.prefix ?? QUEUE_DEFAULTS.prefix, options.shards ?? QUEUE_DEFAULTS.shards);
    this.scripts = new QueueScripts(client);
    // A wake message names the shard that changed: drop what this process knew of it, so the
    // next claim asks that shard (claim-plan.ts) instead of sweeping every shard.
    // Our own scripts already updated (claim, ack) or dropped (enqueue, release, ...) what we
    // know of their shard, so messages this queue caused only wake; a message without a shard
    // (an older script) drops everything.
    this.wakeArg = `${this.keys.wakeChannel()}\n${this.origin}`;
    this.notifier = new WakeNotifier(client, this.keys.wakeChannel(), (message) => {
      const parsed = /\{(\d+)\}:(?:\n(.*))?$/.exec(message);
      if (!parsed) this.shardScores.clear();
      else if (parsed[2] !== this.origin) this.shardScores.delete(Number(parsed[1]));
    });
    this.maxInFlight = options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice;
    this.perDeviceCap = options.perDeviceCap ?? QUEUE_DEFAULTS.perDeviceCap;
    // The global cap is enforced per shard (globalCap / shards) so the check stays inside one
    // slot and atomic; the total never exceeds globalCap, and a skewed shard fills first.
    this.shardCap = Math.ceil((options.globalCap ?? QUEUE_DEFAULTS.globalCap) / this.keys.shards);
    this.retentionMs = options.retentionMs ?? QUEUE_DEFAULTS.retentionMs;
    this.backoff = { ...QUEUE_DEFAULTS.backoff, ...options.backoff };
    this.claimMemoryMs = options.claimMemoryMs ?? 60_000;
    this.scanTtlMs = options.scanTtlMs ?? SCAN_TTL_MS;
    this.wireLayout({
      shards: this.keys.shards,
      shardOfId: (id) => this.keys.shardOfId(id),
      shardOf: (phyId) => this.keys.shardOf(phyId),
      streamKey: (shard) => this.keys.events(shard),
      listDead: (shard, args) => this.scripts.runBuffer('list-dead', this.keys.shardKeyList(shard), args),
      decode: toStoredCommand,
      runDeadScript: (script, shard, args) => this.run(script, shard, args),
      replayArgs: [this.maxInFlight, this.wakeArg],
      commandEntryIds: async (id) => {
        const key = this.keys.command(id);
        if (key === null) return null;
        const [status, ids] = await this.call('commandEvents', () => this.client.hmget(key, 'status', 'ev'));
        return status === null ? null : { shard: this.keys.shardOfId(id)!, ids: ids ? ids.split(' ') : [] };
      },
    });
  }

  newCommandId(phyId: string): string {
    return this.keys.newCommandIdFor(phyId);
  }

  async enqueueBatch(items: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
    const results: Array<EnqueueResult | OutboundError> = new Array(items.length);
    const byShard = new Map<number, number[]>();
    items.forEach((item, index) => {
      // One script per shard of devices; the id carries the same shard (newCommandId), so get(id) finds it.
      const shard = this.keys.shardOf(item.phyId);
      const list = byShard.get(shard) ?? [];
      list.push(index);
      byShard.set(shard, list);
    });
    if (byShard.size > 0) await this.admit();
    // A dispatch loop here waiting with room takes what this enqueue makes ready, claimed in
    // the same scripts (up to its offer, first shards first) and handed over as one batch.
    const claim = byShard.size > 0 ? (this.localClaimer?.offer(items.map((item) => item.phyId)) ?? null) : null;
    const requestId = claim ? randomUUID() : '';
    let claimLeft = claim?.max ?? 0;
    const claimed: ScoredClaim[] = [];
    try {
      const calls: Array<Promise<void>> = [];
      inOneWrite(this.client, () => {
        for (const [shard, indexes] of byShard) {
          for (let i = 0; i < indexes.length; i += CHUNK) {
            const chunk = indexes.slice(i, i + CHUNK);
            const depth = this.keys.shards === 1 ? 0 : this.planDepth;
            const args: Arg[] = [this.maxInFlight, this.perDeviceCap, this.shardCap, this.retentionMs, this.wakeArg, chunk.length];
            for (const index of chunk) {
              const input = items[index]!;
              args.push(
                input.id,
                input.phyId,
                input.payload,
                input.priority,
                input.ttlMs,
                input.ackTimeoutMs,
                input.maxAttempts,
                input.idempotencyKey ?? '',
                input.deliverAt === undefined ? '' : Math.trunc(input.deliverAt),
                input.fingerprint,
                input.traceContext ?? '',
              );
            }
            args.push(depth);
            // A command due later is in no scan this process made: look again before trusting one.
            if (chunk.some((index) => items[index]!.deliverAt !== undefined)) this.lastScan = null;
            const claimMax = Math.min(claimLeft, chunk.length);
            claimLeft -= claimMax;
            if (claimMax > 0) args.push(claimMax, claim!.leaseMs, requestId, Math.max(this.claimMemoryMs, claim!.leaseMs));
            calls.push(
              this.run('enqueue', shard, args, claimMax > 0).then((reply) => {
                // {items, the shard's best claimable scores after the enqueue (for this process's
                // next claim plan), and what it claimed when asked}; ids and texts are Buffers when claiming.
                const [answers, scores, taken] = reply as [CodeReply[], Array<string | Buffer>, Buffer[] | undefined];
                this.rememberScores(shard, scores.map(String), depth);
                answers.forEach(([code, id, status], j) => {
                  const input = items[chunk[j]!]!;
                  results[chunk[j]!] =
                    code === ScriptCode.OK || code === ScriptCode.DUPLICATE
                      ? { id: String(id), status: String(status) as EnqueueResult['status'], duplicate: code === ScriptCode.DUPLICATE }
                      : code === ScriptCode.IDEMPOTENCY_CONFLICT
                        ? scriptCodeToError(code, { phyId: input.phyId, id: String(id) })
                        : scriptCodeToError(code, { phyId: input.phyId, cap: code === ScriptCode.DEVICE_FULL ? this.perDeviceCap : this.shardCap });
                });
                if (taken) claimed.push(...toClaimReply(taken, requestId).claimed);
              }, (error: unknown) => {
                // What a lost answer claimed stays leased until the lease reaper gives it back.
                // Each command answers for itself: one that may have been stored names its id
                // (minted here, so the caller can look it up); one refused as a whole says so.
                const failure = error instanceof StoreError ? error : classifyRedisError(error, 'enqueue');
                chunk.forEach((index) => {
                  results[index] = failure.kind === 'timeout' ? outcomeUnknown(failure, items[index]!.id) : failure;
                });
              }),
            );
          }
        }
      });
      await Promise.all(calls);
    } finally {
      claim?.settle(claimed.sort((a, b) => a.score - b.score).map(withoutScore));
    }
    return results;
  }

  async claim({ max, leaseMs }: ClaimOptions): Promise<ClaimedCommand[]> {
    if (!Number.isInteger(max) || max < 1) throw new OutboundError('VALIDATION_FAILED', `claim max must be a positive integer, got ${max}`);
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new OutboundError('VALIDATION_FAILED', `claim leaseMs must be a positive integer, got ${leaseMs}`);
    if (this.keys.shards === 1) return (await this.claimScored(0, max, leaseMs)).map(withoutScore);
    // Usually one round trip: the plan uses each shard's best scores from its last claim or
    // ack reply, and claim scripts go to the shards it gives a quota (and, quota 0, to shards
    // not heard from for PLAN_TTL_MS: they promote due work and answer fresh scores). What this
    // process knows of a shard is dropped when work became ready there (its own calls, and the
    // wake messages every script that readies work publishes with its shard), so the plan asks
    // exactly those shards again. A round that comes back short reads every shard's ready set
    // and due times in one pipelined round trip (nextWorkInMs: a message may not have arrived
    // yet) and re-plans with the shards that have work, so a claim with room never leaves
    // ready work behind; a claimer that waits when short (waitForWork) instead gets what the
    // first round took at once, and its wait makes that read before it sleeps. What order this
    // keeps across shards: docs/redis-keys.md, "Across shards".
    // Subscribing before the first claim makes every wake message published from here on count.
    if (!this.closed) await this.notifier.start();
    this.planDepth = firstDepth(max, this.keys.shards);
    const afterWait = this.waitedSinceClaim;
    this.waitedSinceClaim = false;
    // A claimer that waits between claims plans from a read of every shard at most scanTtlMs
    // old (it drops the shards with work ready or due, and wake-ups drop those that changed
    // since) instead of sending a claim to every shard not heard from for PLAN_TTL_MS: at
    // idle that refresh was 16 scripts every 100 ms. A read made just now that found nothing
    // answers the claim. Only while the last read found nothing ready: under load (work
    // ready at the last read) a read before every claim would cost more than the refresh.
    let planFromScan = false;
    if (afterWait && this.lastScan?.inMs !== 0) {
      const recent = this.recentScan(this.scanTtlMs);
      if (recent === undefined && (await this.scanForWork()) !== 0) return [];
      planFromScan = true;
    }
    const heard = new Set<number>();
    const staleBefore = Date.now() - PLAN_TTL_MS;
    const taken: ScoredClaim[] = [];
    this.scanOwed = false;
    try {
      for (let round = 0; round < 3 && taken.length < max; round += 1) {
        if (round > 0) {
          // A claimer that waits between claims (waitForWork) and read every shard recently
          // with nothing ready stops here: wake-ups name what changed since and the plan
          // asked those shards; one still on its way ends that claimer's next wait at once.
          // A claim made on its own reads every shard, so it never leaves ready work behind.
          const known = afterWait ? this.recentScan(this.scanTtlMs) : undefined;
          if (known !== undefined && known !== 0) break;
          // A claimer that waits when a claim comes back short gets what the first round took
          // now, not after that read and more rounds: its wait makes the read first (scanOwed)
          // and ends at once when anything is ready, while what it took is being delivered.
          if (this.waitsWhenShort && taken.length > 0) {
            this.scanOwed = true;
            break;
          }
          if ((await this.scanForWork()) !== 0) break; // nothing ready anywhere
        }
        const counts = await this.plan(max - taken.length, heard);
        const targets = this.shardList().filter(
          (shard) => (counts.get(shard) ?? 0) > 0 || (!planFromScan && !heard.has(shard) && (this.shardScores.get(shard)?.at ?? 0) < staleBefore),
        );
        if (targets.length === 0) {
          if (round > 0) break;
          continue; // nothing known to be claimable: the next round scans for work
        }
        const replies = await Promise.allSettled(inOneWrite(this.client, () => targets.map((shard) => this.claimScored(shard, counts.get(shard) ?? 0, leaseMs))));
        for (const shard of targets) heard.add(shard);
        for (const reply of replies) if (reply.status === 'fulfilled') taken.push(...reply.value);
        const failed = replies.find((reply) => reply.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } catch (error) {
      // What other shards leased must reach the caller, or it would sit leased to nobody until
      // the lease expires (an attempt spent for nothing): answer it, fail only with nothing.
      if (taken.length === 0) throw error;
    }
    return taken.sort((a, b) => a.score - b.score).map(withoutScore);
  }

  /**
   * Quotas per shard for a claim of `max` (claim-plan.ts), asking the promote script where the
   * scores are unknown; the first round's scripts (usually the only one) leave in one write.
   */
  private plan(max: number, heard: Set<number>): Promise<Map<number, number>> {
    return inOneWrite(this.client, () => planClaim(
      max,
      this.shardList(),
      this.shardScores,
      async (shard, depth) => ((await this.run('promote', shard, [this.maxInFlight, depth])) as string[]).map(Number),
      heard,
    ));
  }

  /**
   * Claims from one shard under one request id (the lease token). Re-running with the same
   * `requestId` answers what the first run claimed and claims nothing more.
   * @internal exposed for the re-run test and the benchmark.
   */
  async claimShard(shard: number, max: number, leaseMs: number, requestId: string = randomUUID()): Promise<ClaimedCommand[]> {
    return (await this.claimScored(shard, max, leaseMs, requestId)).map(withoutScore);
  }

  private async claimScored(shard: number, max: number, leaseMs: number, requestId: string = randomUUID()): Promise<ScoredClaim[]> {
    const keys = [...this.keys.shardKeyList(shard), this.keys.claimRequest(shard, requestId)];
    const depth = this.keys.shards === 1 ? 0 : this.planDepth;
    const args: Arg[] = [max, leaseMs, this.maxInFlight, requestId, Math.max(this.claimMemoryMs, leaseMs), this.retentionMs, depth];
    const { claimed, scores } = toClaimReply((await this.call('claim', () => this.scripts.runBuffer('claim', keys, args))) as Buffer[], requestId);
    this.rememberScores(shard, scores, depth);
    return claimed;
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.transition('ack', items, [this.maxInFlight, this.retentionMs, this.wakeArg, this.planDepth], (item) => [
      item.id,
      item.leaseToken,
      item.outcome,
      item.result === undefined ? '0' : '1',
      item.result ?? '',
      item.replica ?? '',
    ]);
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    const { baseMs, maxMs, jitter } = this.backoff;
    // A retry wait starts that no earlier scan saw (nor one in flight now).
    this.lastScan = null;
    return this.transition('fail', items, [this.maxInFlight, this.retentionMs], (item) => [
      item.id,
      item.leaseToken,
      item.error,
      item.retryable ? '1' : '0',
      item.retryDelayMs === undefined ? '' : Math.max(0, Math.round(item.retryDelayMs)),
      Math.random(),
      item.replica ?? '',
    ], [baseMs, maxMs, jitter]);
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.transition('release', items, [this.maxInFlight, this.wakeArg], (item) => [
      item.id,
      item.leaseToken,
      item.deviceOffline ? '1' : '0',
      item.reason ?? '',
    ]);
  }

  async markDeviceOffline(phyId: string): Promise<void> {
    assertPhyId(phyId);
    await this.run('device-offline', this.keys.shardOf(phyId), [phyId]);
  }

  async markDeviceOnline(phyId: string): Promise<void> {
    assertPhyId(phyId);
    await this.run('device-online', this.keys.shardOf(phyId), [phyId, this.maxInFlight, this.wakeArg]);
  }

  /** Cursor: `<shard>:<SSCAN cursor>`; SSCAN may answer a device twice across pages while the set changes. */
  async listParkedDevices(options: { limit?: number; cursor?: string } = {}): Promise<{ phyIds: string[]; nextCursor: string | null }> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    let [shard, scan] = parseParkedCursor(options.cursor);
    const phyIds: string[] = [];
    while (shard < this.keys.shards && phyIds.length < limit) {
      const [next, members] = await this.call('listParkedDevices', () => this.client.sscan(this.keys.shard(shard).offline, scan, 'COUNT', Math.max(10, limit - phyIds.length)));
      phyIds.push(...members);
      if (next === '0') {
        shard += 1;
        scan = '0';
      } else {
        scan = next;
      }
    }
    return { phyIds, nextCursor: shard < this.keys.shards ? `${shard}:${scan}` : null };
  }

  async reclaimExpired(options: { limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    const counts = await Promise.all(inOneWrite(this.client, () =>
      this.shardList().map((shard) => this.run('reclaim', shard, [limit, this.maxInFlight, this.retentionMs, this.wakeArg])),
    ));
    counts.forEach((n, shard) => Number(n) > 0 && this.shardScores.delete(shard));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  async expireDue(options: { limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    const counts = await Promise.all(inOneWrite(this.client, () => this.shardList().map((shard) => this.run('expire', shard, [limit, this.maxInFlight, this.retentionMs]))));
    counts.forEach((n, shard) => Number(n) > 0 && this.shardScores.delete(shard));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  async cancel(id: string): Promise<StoredCommand> {
    const shard = this.keys.shardOfId(id);
    if (shard === null) throw scriptCodeToError(ScriptCode.NOT_FOUND, { id });
    const [code, status] = (await this.run('cancel', shard, [id, this.maxInFlight, this.retentionMs])) as [number, string];
    if (code !== ScriptCode.OK) throw scriptCodeToError(code, { id, status });
    const command = await this.get(id);
    if (!command) throw scriptCodeToError(ScriptCode.NOT_FOUND, { id });
    return command;
  }

  async get(id: string): Promise<StoredCommand | null> {
    const shard = this.keys.shardOfId(id);
    if (shard === null) return null;
    const flat = (await this.call('get', () => this.scripts.runBuffer('get', this.keys.shardKeyList(shard), [id]))) as Buffer[];
    return flat.length === 0 ? null : toStoredCommand(flat);
  }

  async listDevice(phyId: string, options: { limit?: number } = {}): Promise<StoredCommand[]> {
    assertPhyId(phyId);
    const keys = this.keys.shardKeyList(this.keys.shardOf(phyId));
    const records = (await this.call('list-device', () => this.scripts.runBuffer('list-device', keys, [phyId, options.limit ?? DEFAULT_LIMIT]))) as Buffer[][];
    return records.map(toStoredCommand);
  }

  async countDevice(phyId: string): Promise<number> {
    assertPhyId(phyId);
    const value = await this.call('countDevice', () => this.client.hget(this.keys.shard(this.keys.shardOf(phyId)).deviceCounts, phyId));
    return Number(value ?? 0);
  }

  /**
   * The command an idempotency key of this device first named, while that command is kept (as
   * enqueue answers a repeat); null otherwise. The draining upgrade (draining-queue.ts) asks it
   * so that a retry made after the switch answers the command this layout holds.
   */
  async findIdempotent(phyId: string, key: string): Promise<IdempotencyRecord | null> {
    assertPhyId(phyId);
    const id = await this.call('findIdempotent', () => this.client.get(this.keys.idempotency(phyId, key)));
    const commandKey = id === null ? null : this.keys.command(id);
    if (id === null || commandKey === null) return null;
    const [status, fingerprint] = await this.call('findIdempotent', () => this.client.hmget(commandKey, 'status', 'fingerprint'));
    return status ? { id, status: status as IdempotencyRecord['status'], fingerprint: fingerprint || null } : null;
  }

  async cancelDevice(phyId: string): Promise<number> {
    assertPhyId(phyId);
    const shard = this.keys.shardOf(phyId);
    return repeatUntilShort(CHUNK, async (chunk) => Number(await this.run('cancel-device', shard, [phyId, this.maxInFlight, this.retentionMs, chunk])));
  }

  async stats(): Promise<QueueStats> {
    const shards = await Promise.all(
      this.shardList().map(async (shard) => {
        const [pending, inflight, delayed, waitingForDevice, dead] = ((await this.run('stats', shard, [])) as number[]).map(Number);
        return { shard, pending, inflight, delayed, waitingForDevice, dead };
      }),
    );
    const total: QueueCounts = { pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 };
    for (const s of shards) for (const k of Object.keys(total) as Array<keyof QueueCounts>) total[k] += s[k];
    return { total, shards };
  }

  setLocalClaimer(claimer: LocalClaimer | null): void {
    this.localClaimer = claimer;
  }

  async waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.waitedSinceClaim = true;
    this.waitsWhenShort = true;
    if (this.closed || signal?.aborted) return;
    await this.notifier.start();
    // Register before looking, so a wake-up published while we look is not lost.
    const waiter = this.notifier.register(signal);
    const owed = this.scanOwed;
    this.scanOwed = false;
    if (waiter.woken) return; // published since the last wait: look again at once
    // A claim that came back short has just scanned; messages since then end the wait above.
    // One that answered its first round at once has not: read every shard now.
    const recent = owed ? undefined : this.recentScan(this.scanTtlMs);
    const nextDueInMs = recent !== undefined ? recent : await this.scanForWork();
    if (nextDueInMs !== null && nextDueInMs <= 0) return waiter.cancel();
    await waiter.wait(nextDueInMs === null ? timeoutMs : Math.min(timeoutMs, nextDueInMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gate.stop();
    await this.notifier.stop();
    if (this.options.ownsClient) await this.client.quit();
  }

  /**
   * What the last scan says now: ms until its soonest due time (null: none), or undefined when
   * it is older than `ttlMs` or that due time has passed. A scan that found work ready (0)
   * stands only for SCAN_REUSE_MS, so a loop that could not claim it looks again.
   */
  private recentScan(ttlMs: number): number | null | undefined {
    if (!this.lastScan) return undefined;
    const age = Date.now() - this.lastScan.at;
    const { inMs } = this.lastScan;
    if (inMs === 0) return age <= SCAN_REUSE_MS ? 0 : undefined;
    if (age > ttlMs) return undefined;
    if (inMs === null) return null;
    return inMs - age > 0 ? inMs - age : undefined;
  }

  /** nextWorkInMs, remembered for a wait that comes right after it (waitForWork). */
  private async scanForWork(): Promise<number | null> {
    const inMs = await this.nextWorkInMs();
    // Timed from the answer, not the request: the due times were measured on the server's
    // clock while the request was on its way, so counting from the send would end a wait
    // that long before they fall due (a slow host then claimed nothing after the wait).
    this.lastScan = { at: Date.now(), inMs };
    return inMs;
  }

  /**
   * 0 when a device is ready now, else ms until the next schedule or retry wait ends, null when
   * none. A shard with work ready or due is dropped from what this process knows, so the next
   * claim asks it. One pipelined round trip on a standalone server; Cluster sends the reads
   * per shard (a pipeline must stay in one slot).
   */
  private async nextWorkInMs(): Promise<number | null> {
    const shards = this.shardList();
    const reads = (shard: number): Array<[string, ...string[]]> => {
      const k = this.keys.shard(shard);
      return [['zcard', k.ready], ['zrange', k.scheduled, '0', '0', 'WITHSCORES'], ['zrange', k.backoff, '0', '0', 'WITHSCORES']];
    };
    const replies = await this.readWithTime('scan', shards.flatMap(reads));
    const time = replies[0] as [string, string];
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    let next: number | null = null;
    shards.forEach((shard, i) => {
      const [ready, scheduled, backoff] = replies.slice(1 + i * 3, 4 + i * 3) as [number, string[], string[]];
      const due = [scheduled[1], backoff[1]].filter((v): v is string => v !== undefined).map((v) => Number(v) - now);
      const soonest = due.length === 0 ? null : Math.max(0, Math.min(...due));
      if (Number(ready) > 0 || soonest === 0) this.shardScores.delete(shard);
      const inMs = Number(ready) > 0 ? 0 : soonest;
      if (inMs !== null && (next === null || inMs < next)) next = inMs;
    });
    return next;
  }

  /**
   * Seconds since the oldest command at the head of a ready device was enqueued (0: none is
   * ready), on the Redis clock. A device's score in `ready` is its head's
   * `(9 - priority) * PRIORITY_STEP + seq`, seq being the enqueue time in microseconds, so the
   * lowest score of each priority band is that band's oldest head: ten ZRANGEBYSCORE ... LIMIT
   * 0 1 per shard (O(log n) each) in one pipelined round trip, whatever the queue holds.
   * Commands due from a schedule or a retry wait count once a claim has promoted them.
   */
  async oldestReadyAgeSeconds(): Promise<number> {
    const reads = this.shardList().flatMap((shard) => oldestReadyReads(this.keys.shard(shard).ready));
    const [time, ...heads] = await this.readWithTime('oldest-ready', reads);
    return oldestReadyAge(time as [string, string], heads);
  }

  private readWithTime(operation: string, reads: Array<[string, ...string[]]>): Promise<unknown[]> {
    return readWithTime(this.client, (op, issue) => this.call(op, issue), operation, reads);
  }

  private async transition<T extends { id: string }>(
    name: QueueScriptName,
    items: T[],
    head: Arg[],
    encode: (item: T) => Arg[],
    afterCount: Arg[] = [],
  ): Promise<TransitionResult[]> {
    const results: TransitionResult[] = new Array(items.length);
    const byShard = new Map<number, number[]>();
    items.forEach((item, index) => {
      const shard = this.keys.shardOfId(item.id);
      if (shard === null) {
        results[index] = { id: item.id, ok: false, error: scriptCodeToError(ScriptCode.NOT_FOUND, { id: item.id }) };
        return;
      }
      const list = byShard.get(shard);
      if (list) list.push(index);
      else byShard.set(shard, [index]);
    });
    const calls: Array<Promise<void>> = [];
    inOneWrite(this.client, () => {
      for (const [shard, indexes] of byShard) {
        for (let i = 0; i < indexes.length; i += CHUNK) {
          const chunk = indexes.slice(i, i + CHUNK);
          const args: Arg[] = [...head, chunk.length, ...afterCount, ...chunk.flatMap((index) => encode(items[index]))];
          calls.push(
            this.run(name, shard, args).then((reply) => {
              let answers = reply as CodeReply[];
              if (name === 'ack') {
                // ack answers {items, the shard's best claimable scores after the acks}.
                const [items, scores] = reply as [CodeReply[], string[]];
                answers = items;
                this.rememberScores(shard, scores, Number(args[3]));
              }
              answers.forEach(([code, status], j) => {
                const id = items[chunk[j]].id;
                results[chunk[j]] =
                  code === ScriptCode.OK
                    ? { id, ok: true, status: String(status) as StoredCommand['status'] }
                    : { id, ok: false, error: scriptCodeToError(code, { id, status: String(status) }) };
              });
            }),
          );
        }
      }
    });
    await Promise.all(calls);
    return results;
  }

  /** Runs a shard's script; `buffers`: bulk strings answer as Buffers (payloads). */
  private run(name: QueueScriptName, shard: number, args: Arg[], buffers = false): Promise<unknown> {
    if (CHANGES_CLAIMABLE.has(name)) this.shardScores.delete(shard);
    const keys = this.keys.shardKeyList(shard);
    return this.call(name, () => (buffers ? this.scripts.runBuffer(name, keys, args) : this.scripts.run(name, keys, args)));
  }

  /** A shard's best claimable scores as a claim, ack or enqueue reply answered them (depth 0: none asked). */
  private rememberScores(shard: number, scores: Array<string | number>, depth: number): void {
    if (depth > 0) this.shardScores.set(shard, { scores: scores.map(Number), depth, at: Date.now() });
  }

  private shardList(): number[] {
    return Array.from({ length: this.keys.shards }, (_, i) => i);
  }

}
