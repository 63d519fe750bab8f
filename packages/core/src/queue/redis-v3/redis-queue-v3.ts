import { randomBytes, randomUUID } from 'node:crypto';
import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type { RedisClient } from '../../redis/connection';
import {
  QUEUE_DEFAULTS,
  type AckItem,
  type ClaimOptions,
  type ClaimedCommand,
  type CommandStore,
  type EnqueueResult,
  type FailItem,
  type QueueCounts,
  type QueueStats,
  type ReleaseItem,
  type StoreEnqueueItem,
  type TransitionResult,
} from '../queue';
import { firstDepth, planClaim, type ShardScores } from '../redis/claim-plan';
import { assertPhyId, parseDeadCursor, parseParkedCursor, withoutScore } from '../redis/queue-input';
import { classifyRedisError, outcomeUnknown } from '../redis/redis-errors';
import { RedisGate } from '../redis/redis-gate';
import type { RedisMemorySample } from '../redis/redis-memory';
import type { RedisQueueOptions } from '../redis/redis-queue';
import { ScriptCode, scriptCodeToError } from '../redis/script-codes';
import { WakeNotifier } from '../redis/wake-notifier';
import { StoreError } from '../store-errors';
import { RedisKeysV3 } from './keys-v3';
import { packFixed, toClaimReplyV3, toStoredCommandV3, type ScoredClaimV3 } from './records-v3';
import { ScriptsV3, type Arg, type V3ScriptName } from './scripts-v3';
import { fanOut, groupByShard } from './shard-fan-out';

export interface RedisQueueV3Options extends RedisQueueOptions {
  /** Keep a finished command's payload (acked, rejected, expired, cancelled). Default false: its size and hash stay. */
  keepFinishedPayload?: boolean;
}

const CHUNK = 500;
const DEFAULT_LIMIT = 1_000;
const PLAN_TTL_MS = 100;
const SCAN_REUSE_MS = 5;
/** Scripts after which a shard's known best scores may be wrong (claim, ack and enqueue answer fresh ones). */
const CHANGES_CLAIMABLE = new Set<V3ScriptName>(['fail', 'release', 'device-offline', 'device-online', 'cancel', 'replay-dead']);
type CodeReply = [number, string, string];

/**
 * CommandQueue on the v3 Redis layout (lua/includes/v3.lua): one packed string per command,
 * written at enqueue and at finish; one packed state field per device (pending count, parked,
 * backoff, in-flight entries with their tokens) read and written once per call; one lease entry
 * per claim batch; TTL checked at claim and by a sparse per-device sweep. Placement, ids, the
 * cross-shard claim plan and wake-ups are the v2 layout's (RedisQueue).
 */
export class RedisQueueV3 implements CommandStore {
  readonly keys: RedisKeysV3;
  private readonly scripts: ScriptsV3;
  private readonly notifier: WakeNotifier;
  private readonly maxInFlight: number;
  private readonly perDeviceCap: number;
  private readonly shardCap: number;
  private readonly retentionMs: number;
  private readonly backoff: { baseMs: number; maxMs: number; jitter: number };
  private readonly claimMemoryMs: number;
  private readonly keepPayload: '0' | '1';
  private closed = false;
  private readonly shardScores = new Map<number, ShardScores>();
  private readonly origin = randomUUID().slice(0, 8);
  private readonly wakeArg: string;
  private lastScan: { at: number; inMs: number | null } | null = null;
  private planDepth = 0;
  private readonly gate: RedisGate;

  constructor(
    readonly client: RedisClient,
    private readonly options: RedisQueueV3Options = {},
  ) {
    this.keys = new RedisKeysV3(options.prefix ?? QUEUE_DEFAULTS.prefix, options.shards ?? QUEUE_DEFAULTS.shards);
    this.scripts = new ScriptsV3(client);
    this.wakeArg = `${this.keys.wakeChannel()}\n${this.origin}`;
    // A message names the shard that changed: forget what we knew of it (RedisQueue says why).
    this.notifier = new WakeNotifier(client, this.keys.wakeChannel(), (message) => {
      const parsed = /\{(\d+)\}:(?:\n(.*))?$/.exec(message);
      if (!parsed) this.shardScores.clear();
      else if (parsed[2] !== this.origin) this.shardScores.delete(Number(parsed[1]));
    });
    this.maxInFlight = options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice;
    this.perDeviceCap = options.perDeviceCap ?? QUEUE_DEFAULTS.perDeviceCap;
    this.shardCap = Math.ceil((options.globalCap ?? QUEUE_DEFAULTS.globalCap) / this.keys.shards);
    this.retentionMs = options.retentionMs ?? QUEUE_DEFAULTS.retentionMs;
    this.backoff = { ...QUEUE_DEFAULTS.backoff, ...options.backoff };
    this.claimMemoryMs = options.claimMemoryMs ?? 60_000;
    this.keepPayload = options.keepFinishedPayload ? '1' : '0';
    this.gate = new RedisGate(client, options);
  }

  newCommandId(phyId: string): string {
    return this.keys.newCommandId(this.keys.shardOf(phyId));
  }

  /** Items come checked, with their ids and fingerprints, from the queue layer (ValidatedQueue). */
  async enqueueBatch(items: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>> {
    const results: Array<EnqueueResult | OutboundError> = new Array(items.length);
    // One script per shard of devices: a command is placed by its device, whatever its id says.
    const byShard = groupByShard(items.map((_, index) => index), (index) => this.keys.shardOf(items[index]!.phyId));
    if (byShard.size > 0) await this.admit();
    await fanOut(byShard, CHUNK, async (shard, chunk) => {
      const ids = chunk.map((index) => items[index]!.id);
      const depth = this.keys.shards === 1 ? 0 : this.planDepth;
      const args: Arg[] = [this.maxInFlight, this.perDeviceCap, this.shardCap, this.retentionMs, this.wakeArg, chunk.length];
      chunk.forEach((index, j) => {
        const input = items[index]!;
        const fingerprint = input.idempotencyKey ? input.fingerprint : ''; // compared only on a repeated key
        const deliverAt = input.deliverAt === undefined ? '' : Math.trunc(input.deliverAt);
        args.push(ids[j]!, input.phyId, input.priority, input.ttlMs, deliverAt, input.idempotencyKey ?? '', fingerprint, packFixed(input, fingerprint), input.payload);
      });
      args.push(depth, newToken(), this.claimMemoryMs);
      try {
        const [answers, scores] = (await this.run('enqueue', shard, args)) as [CodeReply[], string[]];
        this.rememberScores(shard, scores, depth);
        answers.forEach(([code, id, status], j) => {
          const input = items[chunk[j]!]!;
          results[chunk[j]!] =
            code === ScriptCode.OK || code === ScriptCode.DUPLICATE
              ? { id: String(id), status: String(status) as EnqueueResult['status'], duplicate: code === ScriptCode.DUPLICATE }
              : code === ScriptCode.IDEMPOTENCY_CONFLICT
                ? scriptCodeToError(code, { phyId: input.phyId, id: String(id) })
                : scriptCodeToError(code, { phyId: input.phyId, cap: code === ScriptCode.DEVICE_FULL ? this.perDeviceCap : this.shardCap });
        });
      } catch (error) {
        // A command that may have been stored names its id; one refused as a whole says so.
        const failure = error instanceof StoreError ? error : classifyRedisError(error, 'enqueue');
        chunk.forEach((index, j) => {
          results[index] = failure.kind === 'timeout' ? outcomeUnknown(failure, ids[j]!) : failure;
        });
      }
    });
    return results;
  }

  async claim({ max, leaseMs }: ClaimOptions): Promise<ClaimedCommand[]> {
    if (!Number.isInteger(max) || max < 1) throw new OutboundError('VALIDATION_FAILED', `claim max must be a positive integer, got ${max}`);
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new OutboundError('VALIDATION_FAILED', `claim leaseMs must be a positive integer, got ${leaseMs}`);
    if (this.keys.shards === 1) return (await this.claimScored(0, max, leaseMs)).map(withoutScore);
    // The cross-shard plan of RedisQueue.claim (claim-plan.ts): usually one round trip.
    if (!this.closed) await this.notifier.start();
    this.planDepth = firstDepth(max, this.keys.shards);
    const heard = new Set<number>();
    const staleBefore = Date.now() - PLAN_TTL_MS;
    const taken: ScoredClaimV3[] = [];
    try {
      for (let round = 0; round < 3 && taken.length < max; round += 1) {
        if (round > 0 && (await this.scanForWork()) !== 0) break;
        const counts = await planClaim(
          max - taken.length,
          this.shardList(),
          this.shardScores,
          async (shard, depth) => ((await this.run('promote', shard, [this.maxInFlight, depth])) as string[]).map(Number),
          heard,
        );
        const targets = this.shardList().filter(
          (shard) => (counts.get(shard) ?? 0) > 0 || (!heard.has(shard) && (this.shardScores.get(shard)?.at ?? 0) < staleBefore),
        );
        if (targets.length === 0) {
          if (round > 0) break;
          continue;
        }
        const replies = await Promise.allSettled(targets.map((shard) => this.claimScored(shard, counts.get(shard) ?? 0, leaseMs)));
        for (const shard of targets) heard.add(shard);
        for (const reply of replies) if (reply.status === 'fulfilled') taken.push(...reply.value);
        const failed = replies.find((reply) => reply.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } catch (error) {
      // What other shards leased must reach the caller: fail only with nothing taken.
      if (taken.length === 0) throw error;
    }
    return taken.sort((a, b) => a.score - b.score).map(withoutScore);
  }

  /**
   * Claims from one shard under one token. Re-running with the same token answers what the
   * first run claimed and claims nothing more. @internal for the re-run test and the bench.
   */
  async claimShard(shard: number, max: number, leaseMs: number, token: string = newToken()): Promise<ClaimedCommand[]> {
    return (await this.claimScored(shard, max, leaseMs, token)).map(withoutScore);
  }

  private async claimScored(shard: number, max: number, leaseMs: number, token: string = newToken()): Promise<ScoredClaimV3[]> {
    const keys = [...this.keys.shardKeyList(shard), this.keys.claimRequest(shard, token)];
    const depth = this.keys.shards === 1 ? 0 : this.planDepth;
    const args: Arg[] = [max, leaseMs, this.maxInFlight, token, this.retentionMs, depth, this.keepPayload];
    const reply = (await this.call('claim', () => this.scripts.runBuffer('claim', keys, args))) as Buffer[];
    const { claimed, scores } = toClaimReplyV3(reply, token);
    this.rememberScores(shard, scores, depth);
    return claimed;
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.transition('ack', items, [this.maxInFlight, this.retentionMs, this.wakeArg, this.planDepth, this.claimMemoryMs, this.keepPayload], (item) => [
      item.id,
      item.leaseToken,
      item.outcome,
      item.result === undefined ? '0' : Buffer.concat([Buffer.from('1'), item.result]),
    ]);
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    const { baseMs, maxMs, jitter } = this.backoff;
    return this.transition(
      'fail',
      items,
      [this.maxInFlight, this.retentionMs],
      (item) => [item.id, item.leaseToken, item.error, item.retryable ? '1' : '0', item.retryDelayMs === undefined ? '' : Math.max(0, Math.round(item.retryDelayMs)), Math.random()],
      [baseMs, maxMs, jitter, this.claimMemoryMs, this.keepPayload],
    );
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.transition('release', items, [this.maxInFlight, this.wakeArg, this.claimMemoryMs], (item) => [
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
      const [next, members] = await this.call('listParkedDevices', () => this.client.sscan(this.keys.offline(shard), scan, 'COUNT', Math.max(10, limit - phyIds.length)));
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

  /** `limit` counts claim batches per shard (one lease entry each). */
  async reclaimExpired(options: { limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    const args = [limit, this.maxInFlight, this.retentionMs, this.wakeArg, this.claimMemoryMs, this.keepPayload];
    return this.everyShard('reclaim', args);
  }

  /** `limit` counts devices due for the sweep per shard. */
  async expireDue(options: { limit?: number } = {}): Promise<number> {
    const limit = options.limit ?? DEFAULT_LIMIT;
    return this.everyShard('expire', [limit, this.maxInFlight, this.retentionMs, this.keepPayload]);
  }

  async cancel(id: string): Promise<StoredCommand> {
    const shard = this.keys.shardOfId(id);
    if (shard === null) throw scriptCodeToError(ScriptCode.NOT_FOUND, { id });
    const [code, status] = (await this.run('cancel', shard, [id, this.maxInFlight, this.retentionMs, this.keepPayload])) as [number, string];
    if (code !== ScriptCode.OK) throw scriptCodeToError(code, { id, status });
    const command = await this.get(id);
    if (!command) throw scriptCodeToError(ScriptCode.NOT_FOUND, { id });
    return command;
  }

  async get(id: string): Promise<StoredCommand | null> {
    const shard = this.keys.shardOfId(id);
    if (shard === null) return null;
    const view = (await this.call('get', () => this.scripts.runBuffer('get', this.keys.shardKeyList(shard), [id, this.retentionMs]))) as Buffer[];
    return view.length === 0 ? null : toStoredCommandV3(view);
  }

  async listDevice(phyId: string, options: { limit?: number } = {}): Promise<StoredCommand[]> {
    assertPhyId(phyId);
    const keys = this.keys.shardKeyList(this.keys.shardOf(phyId));
    const views = (await this.call('list-device', () => this.scripts.runBuffer('list-device', keys, [phyId, options.limit ?? DEFAULT_LIMIT]))) as Buffer[][];
    return views.map(toStoredCommandV3);
  }

  async countDevice(phyId: string): Promise<number> {
    assertPhyId(phyId);
    const state = await this.call('countDevice', () => this.client.hgetBuffer(this.keys.devices(this.keys.shardOf(phyId)), phyId));
    return state ? state.readUInt32BE(0) : 0; // the device state starts with its pending count
  }

  /** Oldest death first; cursor `<deadAt>:<id>` of the last item answered. */
  async listDead(options: { limit?: number; cursor?: string } = {}): Promise<{ items: StoredCommand[]; nextCursor: string | null }> {
    const limit = options.limit ?? 100;
    const [afterScore, afterId] = parseDeadCursor(options.cursor);
    const pages = await Promise.all(
      this.shardList().map(async (shard) => {
        const reply = (await this.call('list-dead', () => this.scripts.runBuffer('list-dead', this.keys.shardKeyList(shard), [afterScore, afterId, limit + 1]))) as Array<[Buffer, Buffer[]]>;
        return reply.map(([score, view]) => ({ deadAt: Number(score.toString()), command: toStoredCommandV3(view) }));
      }),
    );
    const merged = pages.flat().sort((a, b) => a.deadAt - b.deadAt || (a.command.id < b.command.id ? -1 : a.command.id > b.command.id ? 1 : 0));
    const page = merged.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page.map((p) => p.command), nextCursor: merged.length > limit && last ? `${last.deadAt}:${last.command.id}` : null };
  }

  replayDead(selector: { ids: string[] } | { all: true }): Promise<number> {
    return this.deadOperation('replay-dead', selector, [this.maxInFlight, this.wakeArg]);
  }

  purgeDead(selector: { ids: string[] } | { all: true }): Promise<number> {
    return this.deadOperation('purge-dead', selector, []);
  }

  async stats(): Promise<QueueStats> {
    const shards = await Promise.all(
      this.shardList().map(async (shard) => {
        const [pending, inflight, delayed, waitingForDevice, dead] = ((await this.run('stats', shard, [])) as number[]).map(Number) as [number, number, number, number, number];
        return { shard, pending, inflight, delayed, waitingForDevice, dead };
      }),
    );
    const total: QueueCounts = { pending: 0, inflight: 0, delayed: 0, waitingForDevice: 0, dead: 0 };
    for (const s of shards) for (const k of Object.keys(total) as Array<keyof QueueCounts>) total[k] += s[k];
    return { total, shards };
  }

  async waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return;
    await this.notifier.start();
    const waiter = this.notifier.register(signal);
    if (waiter.woken) return;
    const recent = this.lastScan && Date.now() - this.lastScan.at <= SCAN_REUSE_MS ? this.lastScan.inMs : undefined;
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

  /** Redis memory (INFO memory, sampled at most once a second) for health and metrics. */
  memory(): Promise<RedisMemorySample | null> {
    return this.gate.memory();
  }

  get admissionMaxMemoryRatio(): number {
    return this.gate.admissionMaxMemoryRatio;
  }

  private async scanForWork(): Promise<number | null> {
    const at = Date.now();
    const inMs = await this.nextWorkInMs();
    this.lastScan = { at, inMs };
    return inMs;
  }

  /** 0 when a device is ready now, else ms until the next schedule or retry wait ends, null when none (RedisQueue.nextWorkInMs). */
  private async nextWorkInMs(): Promise<number | null> {
    const shards = this.shardList();
    const reads = (shard: number): Array<[string, ...string[]]> => [
      ['zcard', this.keys.ready(shard)],
      ['zrange', this.keys.scheduled(shard), '0', '0', 'WITHSCORES'],
      ['zrange', this.keys.backoff(shard), '0', '0', 'WITHSCORES'],
    ];
    let replies: unknown[];
    if (this.client.isCluster) {
      replies = await Promise.all([
        this.call('scan', () => this.client.time()),
        ...shards.flatMap((shard) => reads(shard).map(([name, ...args]) => this.call('scan', () => this.client.call(name, ...args)))),
      ]);
    } else {
      const answers = (await this.call('scan', () => this.client.pipeline([['time'], ...shards.flatMap(reads)]).exec())) ?? [];
      const failed = answers.find(([error]) => error);
      if (failed) await this.call('scan', () => Promise.reject(failed[0]));
      replies = answers.map(([, value]) => value);
    }
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

  private async transition<T extends { id: string }>(name: 'ack' | 'fail' | 'release', items: T[], head: Arg[], encode: (item: T) => Arg[], afterCount: Arg[] = []): Promise<TransitionResult[]> {
    const results: TransitionResult[] = new Array(items.length);
    const known: number[] = [];
    items.forEach((item, index) => {
      if (this.keys.shardOfId(item.id) === null) results[index] = { id: item.id, ok: false, error: scriptCodeToError(ScriptCode.NOT_FOUND, { id: item.id }) };
      else known.push(index);
    });
    await fanOut(groupByShard(known, (index) => this.keys.shardOfId(items[index]!.id)!), CHUNK, async (shard, chunk) => {
      const args: Arg[] = [...head, chunk.length, ...afterCount, ...chunk.flatMap((index) => encode(items[index]!))];
      const reply = await this.run(name, shard, args);
      let answers = reply as CodeReply[];
      if (name === 'ack') {
        const [list, scores] = reply as [CodeReply[], string[]];
        answers = list;
        this.rememberScores(shard, scores, Number(head[3]));
      }
      answers.forEach(([code, status], j) => {
        const id = items[chunk[j]!]!.id;
        results[chunk[j]!] =
          code === ScriptCode.OK ? { id, ok: true, status: String(status) as StoredCommand['status'] } : { id, ok: false, error: scriptCodeToError(code, { id, status: String(status) }) };
      });
    });
    return results;
  }

  private async deadOperation(name: 'replay-dead' | 'purge-dead', selector: { ids: string[] } | { all: true }, head: Arg[]): Promise<number> {
    let total = 0;
    if ('all' in selector) {
      await Promise.all(
        this.shardList().map(async (shard) => {
          for (;;) {
            const n = Number(await this.run(name, shard, [...head, 'all', CHUNK]));
            total += n;
            if (n < CHUNK) return;
          }
        }),
      );
      return total;
    }
    const byShard = groupByShard(
      selector.ids.filter((id) => this.keys.shardOfId(id) !== null),
      (id) => this.keys.shardOfId(id)!,
    );
    await fanOut(byShard, CHUNK, async (shard, ids) => {
      const n = Number(await this.run(name, shard, [...head, 'ids', 0, ...ids]));
      total += n;
    });
    return total;
  }

  /** Runs one script on every shard and sums the counts it answers. */
  private async everyShard(name: 'reclaim' | 'expire', args: Arg[]): Promise<number> {
    const counts = await Promise.all(this.shardList().map((shard) => this.run(name, shard, args)));
    counts.forEach((n, shard) => Number(n) > 0 && this.shardScores.delete(shard));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  private run(name: V3ScriptName, shard: number, args: Arg[]): Promise<unknown> {
    if (CHANGES_CLAIMABLE.has(name)) this.shardScores.delete(shard);
    return this.call(name, () => this.scripts.run(name, this.keys.shardKeyList(shard), args));
  }

  private rememberScores(shard: number, scores: Array<string | number>, depth: number): void {
    if (depth > 0) this.shardScores.set(shard, { scores: scores.map(Number), depth, at: Date.now() });
  }

  private shardList(): number[] {
    return Array.from({ length: this.keys.shards }, (_, i) => i);
  }

  /** One request unless Redis is known not to be answering; what failed classified once (redis-errors.ts). */
  private call<T>(operation: string, issue: () => Promise<T>): Promise<T> {
    return this.gate.call(operation, issue);
  }

  /** Enqueue admission (RedisQueue.admit): refused unsent while Redis is down or at its memory high-water mark. */
  private admit(): Promise<void> {
    return this.gate.admit();
  }
}

/** A lease token: 96 random bits as 16 URL-safe characters (it is also stored per in-flight command). */
function newToken(): string {
  return randomBytes(12).toString('base64url');
}
