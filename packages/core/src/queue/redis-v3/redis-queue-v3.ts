import { repeatUntilShort } from '../redis/chunked';
import { randomFillSync, randomUUID } from 'node:crypto';
import type { StoredCommand } from '../../command';
import { OutboundError } from '../../errors';
import type { RedisClient } from '../../redis/connection';
import { inOneWrite } from '../../redis/one-write';
import {
  QUEUE_DEFAULTS,
  type AckAndClaimResult,
  type AckItem,
  type ClaimOptions,
  type ClaimedCommand,
  type CommandStore,
  type EnqueueResult,
  type FailItem,
  type LocalClaimer,
  type QueueCounts,
  type QueueStats,
  type ReleaseItem,
  type StoreEnqueueItem,
  type TransitionResult,
} from '../queue';
import { assertPhyId, parseParkedCursor, withoutScore } from '../redis/queue-input';
import { classifyRedisError, outcomeUnknown } from '../redis/redis-errors';
import { eventCommandId } from '../redis/event-log';
import { RedisStoreBase } from '../redis/redis-store-base';
import type { RedisQueueOptions } from '../redis/redis-queue';
import { ScriptCode, scriptCodeToError } from '../redis/script-codes';
import { WakeNotifier } from '../redis/wake-notifier';
import { StoreError } from '../store-errors';
import { RedisKeysV3 } from './keys-v3';
import { ClaimPlannerV3 } from './claim-planner-v3';
import { parseRecord, toStoredCommandV3, type ScoredClaimV3 } from './records-v3';
import { oldestReadyAge, oldestReadyReads, readWithTime } from '../redis/shard-reads';
import { ackArgs, claimArgs, type AckClaim, enqueueArgs, failArgs, parseAckReply, parseClaimReply, parseEnqueueReply, parseItemsReply, releaseArgs, type ItemAnswer, type ShardSettings } from './script-args-v3';
import { ScriptsV3, type Arg, type V3ScriptName } from './scripts-v3';
import { fanOut, groupByShard } from './shard-fan-out';

export interface RedisQueueV3Options extends RedisQueueOptions {
  /** Keep a finished command's payload (acked, rejected, expired, cancelled). Default false: its size and hash stay. */
  keepFinishedPayload?: boolean;
  /**
   * Bytes of finished records and event log entries to keep at most (0 or absent: no budget,
   * time alone bounds them), split evenly over the shards; trimRetained() drops the oldest past it.
   */
  retentionMaxBytes?: number;
  /**
   * Run the scripts as a Redis function library (FUNCTION LOAD once, then FCALL) where Redis
   * takes it, else as scripts (function-library.ts). Default true; false: always scripts.
   */
  functions?: boolean;
}

const CHUNK = 500;
const DEFAULT_LIMIT = 1_000;
/** Scripts after which a shard's known best scores may be wrong (claim, ack and enqueue answer fresh ones). */
const CHANGES_CLAIMABLE = new Set<V3ScriptName>(['fail', 'release', 'device-offline', 'device-online', 'cancel', 'cancel-device', 'replay-dead']);
/** Scripts that may start a retry wait: the next idle wait reads every shard's due times first. */
const STARTS_WAIT = new Set<V3ScriptName>(['fail', 'release']);

/**
 * CommandQueue on the v3 Redis layout (lua/includes/v3.lua): one packed string per command,
 * written at enqueue and at finish; one packed state field per device (pending count, parked,
 * backoff, in-flight entries with their tokens) read and written once per call; one lease entry
 * per claim batch; TTL checked at claim and by a sparse per-device sweep. Placement, ids, the
 * cross-shard claim plan and wake-ups are the v2 layout's (RedisQueue).
 */
export class RedisQueueV3 extends RedisStoreBase implements CommandStore {
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
  private readonly planner: ClaimPlannerV3;
  private readonly settings: ShardSettings;
  private readonly origin = randomUUID().slice(0, 8);
  private readonly wakeArg: string;
  /** This process' dispatch loop, when it may claim in an enqueue (setLocalClaimer). */
  private localClaimer: LocalClaimer | null = null;

  constructor(
    client: RedisClient,
    private readonly options: RedisQueueV3Options = {},
  ) {
    super(client, options);
    this.keys = new RedisKeysV3(options.prefix ?? QUEUE_DEFAULTS.prefix, options.shards ?? QUEUE_DEFAULTS.shards);
    this.planner = new ClaimPlannerV3(this.keys.shards);
    this.scripts = new ScriptsV3(client, { functions: options.functions });
    this.wakeArg = `${this.keys.wakeChannel()}\n${this.origin}`;
    // A message names the shard that changed: forget what we knew of it (RedisQueue says why).
    this.notifier = new WakeNotifier(client, this.keys.wakeChannel(), (message) => {
      const parsed = /\{(\d+)\}:(?:\n(.*))?$/.exec(message);
      if (!parsed) this.planner.forget();
      else if (parsed[2] !== this.origin) this.planner.forget(Number(parsed[1]));
    });
    this.maxInFlight = options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice;
    this.perDeviceCap = options.perDeviceCap ?? QUEUE_DEFAULTS.perDeviceCap;
    this.shardCap = Math.ceil((options.globalCap ?? QUEUE_DEFAULTS.globalCap) / this.keys.shards);
    this.retentionMs = options.retentionMs ?? QUEUE_DEFAULTS.retentionMs;
    this.backoff = { ...QUEUE_DEFAULTS.backoff, ...options.backoff };
    this.claimMemoryMs = options.claimMemoryMs ?? 60_000;
    this.keepPayload = options.keepFinishedPayload ? '1' : '0';
    this.settings = {
      maxInFlight: this.maxInFlight,
      retentionMs: this.retentionMs,
      wake: this.wakeArg,
      claimMemoryMs: this.claimMemoryMs,
      keepPayload: options.keepFinishedPayload === true,
    };
    this.wireLayout({
      shards: this.keys.shards,
      shardOfId: (id) => this.keys.shardOfId(id),
      shardOf: (phyId) => this.keys.shardOf(phyId),
      streamKey: (shard) => this.keys.events(shard),
      listDead: (shard, args) => this.scripts.runBuffer('list-dead', this.keys.shardKeyList(shard), args),
      decode: toStoredCommandV3,
      runDeadScript: (script, shard, args) => this.run(script, shard, args),
      replayArgs: [this.maxInFlight, this.wakeArg],
      // The record (pending, dead or finished, within retention) ends with its entries' ids.
      commandEntryIds: async (id) => {
        const shard = this.keys.shardOfId(id);
        if (shard === null) return null;
        const view = (await this.call('commandEvents', () => this.scripts.runBuffer('get', this.keys.shardKeyList(shard), [id, this.retentionMs]))) as Buffer[];
        return view.length === 0 ? null : { shard, ids: parseRecord(view[1]!).eventIds };
      },
      idPrefix: 'v3:',
    });
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
    if (items.some((item) => item.deliverAt !== undefined)) this.planner.rescan();
    // A dispatch loop here waiting with room takes what this enqueue makes ready, claimed in
    // the same scripts (up to its offer, first shards first) and handed over as one batch.
    const claim = byShard.size > 0 ? (this.localClaimer?.offer(items.map((item) => item.phyId)) ?? null) : null;
    let claimLeft = claim?.max ?? 0;
    const claimed: ScoredClaimV3[] = [];
    try {
      // One socket write for the batch's scripts (one-write.ts): each is still its own call.
      await inOneWrite(this.client, () => fanOut(byShard, CHUNK, async (shard, chunk) => {
        const ids = chunk.map((index) => items[index]!.id);
        const depth = this.planner.answerDepth;
        const claimMax = Math.min(claimLeft, chunk.length);
        claimLeft -= claimMax;
        // a claim of one command at most: its token ends in '.', so its ack closes the lease
        // without counting it down (a lease of one holds no count: the HINCRBY only found that out)
        const requestToken = newToken(claimMax);
        const args = enqueueArgs(chunk.map((index) => items[index]!), {
          ...this.settings,
          perDeviceCap: this.perDeviceCap,
          shardCap: this.shardCap,
          depth,
          requestToken,
          ...(claimMax > 0 ? { claim: { max: claimMax, leaseMs: claim!.leaseMs } } : {}),
        });
        const sentAt = this.planner.mark();
        try {
          // What a lost answer claimed stays leased until the lease reaper gives it back.
          const reply = claimMax > 0 ? await this.call('enqueue', () => this.scripts.runBuffer('enqueue', this.keys.shardKeyList(shard), args)) : await this.run('enqueue', shard, args);
          const { answers, scores, claimed: taken } = parseEnqueueReply(reply, ids, requestToken);
          this.planner.remember(shard, scores, depth, sentAt);
          claimed.push(...taken);
          answers.forEach(({ code, id, status }, j) => {
            const input = items[chunk[j]!]!;
            results[chunk[j]!] =
              code === ScriptCode.OK || code === ScriptCode.DUPLICATE
                ? { id, status: status as EnqueueResult['status'], duplicate: code === ScriptCode.DUPLICATE }
                : code === ScriptCode.IDEMPOTENCY_CONFLICT
                  ? scriptCodeToError(code, { phyId: input.phyId, id })
                : scriptCodeToError(code, { phyId: input.phyId, cap: code === ScriptCode.DEVICE_FULL ? this.perDeviceCap : this.shardCap });
          });
        } catch (error) {
          // A command that may have been stored names its id; one refused as a whole says so.
          const failure = error instanceof StoreError ? error : classifyRedisError(error, 'enqueue');
          chunk.forEach((index, j) => {
            results[index] = failure.kind === 'timeout' ? outcomeUnknown(failure, ids[j]!) : failure;
          });
        }
      }));
    } finally {
      claim?.settle(claimed.sort((a, b) => a.score - b.score).map(withoutScore));
    }
    return results;
  }

  setLocalClaimer(claimer: LocalClaimer | null): void {
    this.localClaimer = claimer;
  }

  async claim({ max, leaseMs }: ClaimOptions): Promise<ClaimedCommand[]> {
    checkClaimOptions(max, leaseMs);
    if (this.keys.shards > 1 && !this.closed) await this.notifier.start();
    return this.planner.claim(max, {
      claim: (shard, count) => this.claimScored(shard, count, leaseMs),
      promote: async (shard, depth) => ((await this.run('promote', shard, [this.maxInFlight, depth])) as Array<string | number>).map(Number),
      readAll: () => this.readAllShards(),
      together: (send) => inOneWrite(this.client, send),
    });
  }

  /**
   * Claims from one shard under one token. Re-running with the same token answers what the
   * first run claimed and claims nothing more. @internal for the re-run test and the bench.
   */
  async claimShard(shard: number, max: number, leaseMs: number, token: string = newToken(max)): Promise<ClaimedCommand[]> {
    return (await this.claimScored(shard, max, leaseMs, token)).map(withoutScore);
  }

  private async claimScored(shard: number, max: number, leaseMs: number, token: string = newToken(max)): Promise<ScoredClaimV3[]> {
    const keys = this.keys.shardKeyList(shard); // the script names claim:<token> (keys.claimRequest) itself
    const depth = this.planner.answerDepth;
    const args = claimArgs(max, leaseMs, token, { ...this.settings, depth });
    const sentAt = this.planner.mark();
    const { claimed, scores } = parseClaimReply(await this.call('claim', () => this.scripts.runBuffer('claim', keys, args)), token);
    this.planner.remember(shard, scores, depth, sentAt);
    return claimed;
  }

  ack(items: AckItem[]): Promise<TransitionResult[]> {
    return this.perShard(items, (shard, chunk) => this.ackShard(shard, chunk));
  }

  /** ack-1.lua on one shard without a claim; the scores it answers go to the planner. */
  private async ackShard(shard: number, items: AckItem[]): Promise<ItemAnswer[]> {
    const depth = this.planner.answerDepth;
    const sentAt = this.planner.mark();
    const { answers, scores } = parseAckReply(await this.run('ack', shard, ackArgs(items, { ...this.settings, depth })));
    this.planner.remember(shard, scores, depth, sentAt);
    return answers;
  }

  /**
   * The acks, and a claim that takes nothing a claim after them would pass over, in one round
   * trip: the plan (ClaimPlannerV3.planWithAcks) comes from the scores the shards last answered;
   * a shard being acked claims in its ack script (ack-1.lua, bounded by the plan), and other
   * shards with a share get their claim scripts in the same socket write. When no such plan is
   * known (a shard not heard from lately, or one that may hold more of the best than it
   * answered), the acks, then `claim`. An acked shard whose best known is not among the best
   * claims nothing in its script and its places go to the best known elsewhere, in the same
   * write; an acked device's next command that beats them waits for the next claim. May answer
   * fewer than `max` while work is ready elsewhere (a shard may hold more of the best than it
   * answered): the caller claims the rest.
   */
  async ackAndClaim(items: AckItem[], { max, leaseMs }: ClaimOptions): Promise<AckAndClaimResult> {
    checkClaimOptions(max, leaseMs);
    if (this.keys.shards > 1 && !this.closed) await this.notifier.start();
    const acks = new Map<number, number>();
    for (const item of items) {
      const shard = this.keys.shardOfId(item.id);
      if (shard !== null) acks.set(shard, (acks.get(shard) ?? 0) + 1);
    }
    const plan = this.planner.planWithAcks(max, acks);
    if (plan === null) {
      const results = await this.ack(items);
      return { results, claimed: await this.claim({ max, leaseMs }) };
    }
    const claimed: ScoredClaimV3[] = [];
    const results = await this.perShard(
      items,
      async (shard, chunk) => {
        // the shard's share goes with its first chunk
        const share = plan.get(shard);
        plan.delete(shard);
        if (share === undefined) return this.ackShard(shard, chunk);
        const bound = share.bound === Infinity ? -1 : share.bound;
        const { answers, claimed: taken } = await this.ackClaimScored(shard, chunk, { max: share.count, leaseMs, bound, token: newToken(share.count) });
        claimed.push(...taken);
        return answers;
      },
      // the shares of shards without an ack leave in the same write (perShard took the others)
      () => [...plan].map(async ([shard, { count }]) => {
        claimed.push(...(await this.claimScored(shard, count, leaseMs)));
      }),
    );
    return { results, claimed: claimed.sort((a, b) => a.score - b.score).map(withoutScore) };
  }

  /**
   * ack-1.lua on one shard with its claim (`bound`: the worst score it may take, -1 any). A
   * re-run with the same token answers what the first run claimed and claims nothing more.
   * @internal for the tests; ackAndClaim runs it per shard.
   */
  async ackClaimShard(shard: number, items: AckItem[], claim: AckClaim): Promise<{ answers: ItemAnswer[]; claimed: ClaimedCommand[] }> {
    const { answers, claimed } = await this.ackClaimScored(shard, items, claim);
    return { answers, claimed: claimed.map(withoutScore) };
  }

  private async ackClaimScored(shard: number, items: AckItem[], claim: AckClaim): Promise<{ answers: ItemAnswer[]; claimed: ScoredClaimV3[] }> {
    const depth = this.planner.answerDepth;
    const args = ackArgs(items, { ...this.settings, depth, claim });
    const sentAt = this.planner.mark();
    // What a lost answer claimed stays leased until the lease reaper gives it back.
    const reply = await this.call('ack', () => this.scripts.runBuffer('ack', this.keys.shardKeyList(shard), args));
    const { answers, scores, claimed } = parseAckReply(reply, claim.token);
    this.planner.remember(shard, scores, depth, sentAt);
    return { answers, claimed };
  }

  fail(items: FailItem[]): Promise<TransitionResult[]> {
    return this.perShard(items, async (shard, chunk) => parseItemsReply(await this.run('fail', shard, failArgs(chunk, { ...this.settings, backoff: this.backoff }))));
  }

  release(items: ReleaseItem[]): Promise<TransitionResult[]> {
    return this.perShard(items, async (shard, chunk) => parseItemsReply(await this.run('release', shard, releaseArgs(chunk, this.settings))));
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
    const [code, status] = (await this.run('cancel', shard, [id, this.maxInFlight, this.retentionMs, this.keepPayload, eventCommandId(id)])) as [number, string];
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

  async cancelDevice(phyId: string): Promise<number> {
    assertPhyId(phyId);
    const shard = this.keys.shardOf(phyId);
    return repeatUntilShort(CHUNK, async (chunk) => Number(await this.run('cancel-device', shard, [phyId, this.maxInFlight, this.retentionMs, this.keepPayload, chunk])));
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

  /**
   * Seconds since the oldest command at the head of a ready device was enqueued (0: none is
   * ready), on the Redis clock: ten reads of each shard's `ready` set in one pipelined round
   * trip (redis/shard-reads.ts), nothing scanned. Commands due from a schedule or a retry wait count
   * once a claim has promoted them; a head whose TTL passed counts until a claim or the expiry
   * sweep finishes it.
   */
  async oldestReadyAgeSeconds(): Promise<number> {
    const [time, ...heads] = await this.readWithTime('oldest-ready', this.shardList().flatMap((shard) => oldestReadyReads(this.keys.ready(shard))));
    return oldestReadyAge(time as [string, string], heads);
  }

  /**
   * Counts the bytes of the finished records and of the event log and, with
   * `retentionMaxBytes`, trims each shard to its share: the oldest first, a record with its
   * events (trim-finished-1.lua). One script per shard; nothing pending is ever trimmed.
   * Answers what stays (records and events) and how many records went. With
   * `quietMs`, a shard trimmed (by any caller) less than that long ago answers its last total
   * instead: many dispatchers trimming every interval cost one trim per shard and interval.
   */
  async trimRetained(options: { quietMs?: number } = {}): Promise<{ retainedBytes: number; trimmed: number }> {
    const budget = Math.floor((this.options.retentionMaxBytes ?? 0) / this.keys.shards);
    const args = [budget, this.retentionMs, options.quietMs ?? 0];
    const answers = (await Promise.all(this.shardList().map((shard) => this.run('trim-finished', shard, args)))) as Array<[string, number]>;
    return answers.reduce((sum, [bytes, trimmed]) => ({ retainedBytes: sum.retainedBytes + Number(bytes), trimmed: sum.trimmed + Number(trimmed) }), { retainedBytes: 0, trimmed: 0 });
  }

  async waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return;
    await this.notifier.start();
    const waiter = this.notifier.register(signal);
    if (waiter.woken) return;
    const nextDueInMs = await this.planner.nextDueInMs({ claim: async () => [], promote: async () => [], readAll: () => this.readAllShards(), together: (send) => send() });
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

  /** Per shard, one pipelined round trip (Cluster: one read per key): ready devices, and ms until its first schedule or retry wait ends. */
  private async readAllShards(): Promise<Array<{ ready: number; dueInMs: number | null }>> {
    const shards = this.shardList();
    const reads = (shard: number): Array<[string, ...string[]]> => [
      ['zcard', this.keys.ready(shard)],
      ['zrange', this.keys.scheduled(shard), '0', '0', 'WITHSCORES'],
      ['zrange', this.keys.backoff(shard), '0', '0', 'WITHSCORES'],
    ];
    const replies = await this.readWithTime('scan', shards.flatMap(reads));
    const time = replies[0] as [string, string];
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    return shards.map((_, i) => {
      const [ready, scheduled, backoff] = replies.slice(1 + i * 3, 4 + i * 3) as [number, string[], string[]];
      const due = [scheduled[1], backoff[1]].filter((v): v is string => v !== undefined).map((v) => Number(v) - now);
      return { ready: Number(ready), dueInMs: due.length === 0 ? null : Math.max(0, Math.min(...due)) };
    });
  }

  private readWithTime(operation: string, reads: Array<[string, ...string[]]>): Promise<unknown[]> {
    return readWithTime(this.client, (op, issue) => this.call(op, issue), operation, reads);
  }

  /**
   * One script per shard and chunk for items named by their ids (an id not of this queue is
   * NOT_FOUND without a call); each answer becomes the item's TransitionResult.
   */
  private async perShard<T extends { id: string }>(
    items: T[],
    run: (shard: number, chunk: T[]) => Promise<ItemAnswer[]>,
    /** Other calls to send in the same write, after the scripts (ackAndClaim's claims). */
    alongside?: () => Array<Promise<void>>,
  ): Promise<TransitionResult[]> {
    const results: TransitionResult[] = new Array(items.length);
    const known: number[] = [];
    // Each id's shard read once (a pattern match): the grouping below takes it from here.
    const shards: number[] = new Array(items.length);
    items.forEach((item, index) => {
      const shard = this.keys.shardOfId(item.id);
      if (shard === null) results[index] = { id: item.id, ok: false, error: scriptCodeToError(ScriptCode.NOT_FOUND, { id: item.id }) };
      else {
        shards[index] = shard;
        known.push(index);
      }
    });
    await inOneWrite(this.client, () => {
      const scripts = fanOut(groupByShard(known, (index) => shards[index]!), CHUNK, async (shard, chunk) => {
        const answers = await run(shard, chunk.map((index) => items[index]!));
        answers.forEach(({ code, status }, j) => {
          const id = items[chunk[j]!]!.id;
          results[chunk[j]!] = code === ScriptCode.OK ? { id, ok: true, status: status as StoredCommand['status'] } : { id, ok: false, error: scriptCodeToError(code, { id, status }) };
        });
      });
      return alongside ? Promise.all([scripts, ...alongside()]) : scripts;
    });
    return results;
  }

  /** Runs one script on every shard and sums the counts it answers. */
  private async everyShard(name: 'reclaim' | 'expire', args: Arg[]): Promise<number> {
    const counts = await Promise.all(inOneWrite(this.client, () => this.shardList().map((shard) => this.run(name, shard, args))));
    counts.forEach((n, shard) => Number(n) > 0 && this.planner.forget(shard));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  private async run(name: V3ScriptName, shard: number, args: Arg[]): Promise<unknown> {
    if (!CHANGES_CLAIMABLE.has(name)) return this.call(name, () => this.scripts.run(name, this.keys.shardKeyList(shard), args));
    this.planner.forget(shard);
    if (STARTS_WAIT.has(name)) this.planner.rescan();
    try {
      return await this.call(name, () => this.scripts.run(name, this.keys.shardKeyList(shard), args));
    } finally {
      // Again once it ran: a claim or ack reply read before it (answered first on this connection)
      // may have put back what it changed, and its own wake message does not make us forget.
      this.planner.forget(shard);
      if (STARTS_WAIT.has(name)) this.planner.rescan();
    }
  }

  private shardList(): number[] {
    return Array.from({ length: this.keys.shards }, (_, i) => i);
  }
}

function checkClaimOptions(max: number, leaseMs: number): void {
  if (!Number.isInteger(max) || max < 1) throw new OutboundError('VALIDATION_FAILED', `claim max must be a positive integer, got ${max}`);
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new OutboundError('VALIDATION_FAILED', `claim leaseMs must be a positive integer, got ${leaseMs}`);
}

/** Random bytes tokens are cut from, refilled when used up: one call to the random source per 256 tokens instead of one each. */
const tokenPool = Buffer.alloc(12 * 256);
let tokenAt = tokenPool.length;

/**
 * A lease token: 96 random bits as 16 URL-safe characters (it is also stored per in-flight
 * command). For a claim of one command (`max` 1) the last character is '.' (90 random bits
 * left): the scripts claim at most one command under such a token, and its outcome closes the
 * lease without counting down the batch (one Redis call fewer per command at claim batch 1).
 */
function newToken(max = 0): string {
  if (tokenAt === tokenPool.length) {
    randomFillSync(tokenPool);
    tokenAt = 0;
  }
  tokenAt += 12;
  const token = tokenPool.toString('base64url', tokenAt - 12, tokenAt);
  return max === 1 ? `${token.slice(0, 15)}.` : token;
}
