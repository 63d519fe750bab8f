import type { CommandStatus, EnqueueInput, StoredCommand } from '../command';
import type { OutboundError } from '../errors';
import type { EventLog } from './events';

/**
 * The queue contract both backends (Redis, PostgreSQL) implement and one conformance suite
 * proves. Every method is one atomic step per command (a Lua script, one transaction).
 *
 * Order (docs/architecture.md, "Order and fairness"): across devices, higher priority first; for one device by
 * priority then enqueue order, at most `maxInFlightPerDevice` outstanding, and a command
 * waiting for a retry keeps its place at the head of its device's line.
 */
export interface EnqueueOptions {
  /**
   * Every input came from `parseEnqueueBody` (the API's parse, which checks all the queue
   * checks) unchanged but for a trace context of our own: the queue does not check them again.
   */
  checked?: boolean;
}

export interface CommandQueue extends EventLog {
  /**
   * Enqueues one command. Idempotent by `idempotencyKey`, scoped to the device: a repeat asking
   * for the same thing answers the first id (`duplicate: true`), a repeat with another payload or
   * parameters throws IDEMPOTENCY_CONFLICT. Throws VALIDATION_FAILED and QUEUE_FULL.
   */
  enqueue(input: EnqueueInput, options?: EnqueueOptions): Promise<EnqueueResult>;
  /** Enqueues many; each item answers on its own (a full device does not fail its neighbours). */
  enqueueBatch(inputs: EnqueueInput[], options?: EnqueueOptions): Promise<Array<EnqueueResult | OutboundError>>;

  /** Claims up to `max` ready commands, each with a lease token valid for `leaseMs`. */
  claim(options: ClaimOptions): Promise<ClaimedCommand[]>;
  /** Records device outcomes (`ok` → acked, `rejected` → rejected). A stale token → LEASE_LOST for that item. */
  ack(items: AckItem[]): Promise<Array<TransitionResult>>;
  /**
   * Records outcomes as `ack` does, then claims up to `next.max` ready commands as `claim` does
   * (best first, per-device order and limits, leased for `next.leaseMs`): a claimer's ack and
   * its next claim in one step where the store can make them one (Redis v3: the ack's own
   * script claims on its shard). `claimed` may hold fewer than a `claim` would take, even none
   * while work is ready (what the store could not take in the same step without passing over
   * better work elsewhere): a caller with room left calls `claim` for the rest. Stores without
   * it leave it out; `ackThenClaim` runs `ack`, then `claim` for them.
   */
  ackAndClaim?(items: AckItem[], next: ClaimOptions): Promise<AckAndClaimResult>;
  /** A failed attempt: retryable → backoff (or dead after maxAttempts), permanent → rejected. */
  fail(items: FailItem[]): Promise<Array<TransitionResult>>;
  /**
   * Gives a claimed command back to the head of its device's line without spending its attempt.
   * With `deviceOffline`, the device is parked: its commands wait (status queued, waitingFor
   * `device`) until `markDeviceOnline`.
   */
  release(items: ReleaseItem[]): Promise<Array<TransitionResult>>;

  /** Parks a device: none of its commands is claimed until it comes online. */
  markDeviceOffline(phyId: string): Promise<void>;
  /** Unparks a device so its commands are claimable at once, and wakes claimers. */
  markDeviceOnline(phyId: string): Promise<void>;
  /**
   * Parked (offline) devices, paged. The dispatcher's fallback check compares them with the
   * route registry, so a lost "device online" signal delays delivery by one check, not forever.
   */
  listParkedDevices(options?: { limit?: number; cursor?: string }): Promise<{ phyIds: string[]; nextCursor: string | null }>;

  /** Returns commands whose lease expired to the head of their device's line (attempt spent). Safe with many callers. */
  reclaimExpired(options?: { limit?: number }): Promise<number>;
  /** Moves queued commands whose TTL passed to `expired`; removes finished commands past retention. */
  expireDue(options?: { limit?: number }): Promise<number>;

  /** Cancels a command that is still queued. INVALID_STATE when in flight or finished, COMMAND_NOT_FOUND when unknown. */
  cancel(id: string): Promise<StoredCommand>;
  get(id: string): Promise<StoredCommand | null>;
  /** A device's queued and in-flight commands in delivery order. */
  listDevice(phyId: string, options?: { limit?: number }): Promise<StoredCommand[]>;
  /** Pending count for one device (queued + inflight). */
  countDevice(phyId: string): Promise<number>;

  /**
   * Cancels every queued command of one device (not those in flight) and answers how many.
   * Each store call is atomic per step (one script per shard page, one statement); a device
   * with more queued than one step takes is cancelled in several.
   */
  cancelDevice(phyId: string): Promise<number>;

  /**
   * Dead letters, oldest death first, optionally filtered (DeadFilter). A filtered page may
   * come back short (even empty) with a nextCursor: the store bounds the work of one page.
   */
  listDead(options?: ListDeadOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }>;
  /** Requeues dead letters with attempts reset; answers how many moved. */
  replayDead(selector: DeadSelector): Promise<number>;
  /** Deletes dead letters; answers how many went. */
  purgeDead(selector: DeadSelector): Promise<number>;

  /**
   * Commands of every state within retention, newest enqueue first, filtered and cursor-paged.
   * A page may come back short with a nextCursor (the store bounds the work of one page).
   */
  listCommands(options?: ListCommandsOptions): Promise<{ items: StoredCommand[]; nextCursor: string | null }>;

  stats(): Promise<QueueStats>;
  /**
   * Seconds since the oldest command that could be sent now (at the head of a device that may
   * be sent to) was enqueued; 0 when none is. A bounded read, cheap enough for every scrape.
   * null (or a store without it): the store does not track it, and no age is exported.
   */
  oldestReadyAgeSeconds?(): Promise<number | null>;
  /**
   * Bytes its finished records and its event log hold, after dropping the oldest past the
   * store's byte budget (if it has one), and how many records went. A store without it bounds
   * them by time alone.
   * `quietMs`: a store trimmed less than that long ago (by any process) may answer its last
   * count without trimming.
   */
  trimRetained?(options?: { quietMs?: number }): Promise<{ retainedBytes: number; trimmed: number } | null>;

  /**
   * Resolves when work may be ready (an enqueue, a device online, a retry or schedule due) or
   * after `timeoutMs`, whichever is first, or when `signal` aborts. The fallback timeout covers
   * lost wake-up signals; callers never poll on a fixed interval in the latency path.
   */
  waitForWork(timeoutMs: number, signal?: AbortSignal): Promise<void>;

  /**
   * Names the dispatch loop of this process that may take, in an enqueue's own store call, the
   * commands that enqueue made ready (null: none). Stores that cannot claim while they enqueue
   * leave it out; the loop then claims after the wake-up as always.
   */
  setLocalClaimer?(claimer: LocalClaimer | null): void;

  close(): Promise<void>;
}

/** What `ackAndClaim` answers: one result per ack item, in order, and the commands it claimed, best first. */
export interface AckAndClaimResult {
  results: TransitionResult[];
  claimed: ClaimedCommand[];
}

/** `queue.ackAndClaim` where the queue has it, else `ack`, then `claim`. */
export async function ackThenClaim(queue: Pick<CommandQueue, 'ack' | 'claim' | 'ackAndClaim'>, items: AckItem[], next: ClaimOptions): Promise<AckAndClaimResult> {
  if (queue.ackAndClaim) return queue.ackAndClaim(items, next);
  const results = await queue.ack(items);
  return { results, claimed: await queue.claim(next) };
}

/**
 * A claimer in the enqueuing process (the dispatch loop). Before an enqueue call goes out the
 * store asks `offer` with the devices of its commands (one per command): null, or how many
 * commands the claimer takes now under what lease, room it holds until `settle` is called
 * with what the call claimed. A claim made in an enqueue
 * is the same claim as `claim` makes (best ready commands of that shard, per-device order and
 * limits kept, leased, remembered for a re-sent call): if the answer is lost, the leases lapse
 * and the lease reaper gives the commands back.
 */
export interface LocalClaimer {
  offer(phyIds: readonly string[]): LocalClaim | null;
}

export interface LocalClaim {
  readonly max: number;
  readonly leaseMs: number;
  /** Called once: with what the enqueue claimed (best first), or with none when it claimed nothing or failed. */
  settle(claimed: ClaimedCommand[]): void;
}

/**
 * Which dead letters: every condition given must hold. `reason` matches a dead letter whose
 * lastError starts with it (case-sensitive; a whole error text matches itself). `since`
 * (inclusive) and `until` (exclusive) bound the time it died, epoch ms on the store's clock.
 */
export interface DeadFilter {
  phyId?: string;
  reason?: string;
  since?: number;
  until?: number;
}

export interface ListDeadOptions {
  limit?: number;
  cursor?: string;
  filter?: DeadFilter;
}

/** The dead letters a replay or purge acts on: these ids, every one, or those a filter selects. */
export type DeadSelector = { ids: string[] } | { all: true } | { filter: DeadFilter };

/** History: every condition given must hold; `since` (inclusive) and `until` (exclusive) bound the enqueue time, epoch ms. */
export interface ListCommandsOptions {
  phyId?: string;
  status?: CommandStatus;
  since?: number;
  until?: number;
  limit?: number;
  cursor?: string;
}

/** One command as the queue layer hands it to a store: checked, with its id and its fingerprint. */
export interface StoreEnqueueItem extends EnqueueInput {
  /** Minted by the store's `newCommandId`; a re-sent call with the same id answers the stored command. */
  id: string;
  /** enqueueFingerprint(input) with an idempotency key, kept and compared on a repeat; '' without one (nothing reads it). */
  fingerprint: string;
}

/**
 * A store backend (Redis, PostgreSQL): only its atomic operations. It trusts its input; the
 * queue layer (ValidatedQueue) checks every command, mints its id and its fingerprint first.
 * On a repeated idempotency key a store answers the first command (`duplicate: true`) when the
 * fingerprints match and IDEMPOTENCY_CONFLICT when they differ.
 */
export interface CommandStore extends Omit<CommandQueue, 'enqueue' | 'enqueueBatch'> {
  /** A fresh command id for a command of this device (Redis ids carry the device's shard). */
  newCommandId(phyId: string): string;
  /** Stores each item alone (caps, idempotency), in order; answers one result or coded error per item. */
  enqueueBatch(items: StoreEnqueueItem[]): Promise<Array<EnqueueResult | OutboundError>>;
}

export interface EnqueueResult {
  id: string;
  status: CommandStatus;
  /** True when an earlier enqueue with the same idempotency key answered this id. */
  duplicate: boolean;
}

export interface ClaimOptions {
  max: number;
  leaseMs: number;
}

export interface ClaimedCommand {
  id: string;
  phyId: string;
  payload: Buffer;
  priority: number;
  /** Attempts including this one. */
  attempts: number;
  maxAttempts: number;
  ackTimeoutMs: number;
  expiresAt: number;
  createdAt: number;
  leaseToken: string;
  leaseExpiresAt: number;
  /** W3C traceparent of the request that enqueued it (tracing on). */
  traceContext?: string;
}

export interface AckItem {
  id: string;
  leaseToken: string;
  outcome: 'ok' | 'rejected';
  result?: Buffer;
  /** The ingress replica that wrote it to the device: the store logs `command.delivered` with it. */
  replica?: string;
}

export interface FailItem {
  id: string;
  leaseToken: string;
  error: string;
  retryable: boolean;
  /** Overrides the queue's backoff for this retry (e.g. a device's BUSY hint). */
  retryDelayMs?: number;
  /** Set when the attempt reached the device (through this ingress replica): the store logs `command.delivered`. */
  replica?: string;
}

export interface ReleaseItem {
  id: string;
  leaseToken: string;
  /** Park the device until `markDeviceOnline`. */
  deviceOffline?: boolean;
  reason?: string;
}

/** Per-item answer of ack/fail/release. */
export type TransitionResult =
  | { id: string; ok: true; status: CommandStatus }
  | { id: string; ok: false; error: OutboundError };

export interface QueueCounts {
  /** queued and ready now */
  pending: number;
  inflight: number;
  /** queued, waiting for backoff or deliverAt */
  delayed: number;
  /** queued, device offline */
  waitingForDevice: number;
  dead: number;
}

export interface QueueStats {
  total: QueueCounts;
  shards: Array<QueueCounts & { shard: number }>;
}

/** Backoff and limits shared by both backends. */
export interface QueueOptions {
  /** Key prefix (Redis) or schema (PostgreSQL). Default `outbound`. */
  prefix?: string;
  /** Hash-tagged shards (Redis). Default 16. */
  shards?: number;
  /** Default 1. */
  maxInFlightPerDevice?: number;
  /** Default 1,000. */
  perDeviceCap?: number;
  /** Default 1,000,000. */
  globalCap?: number;
  /** Finished commands stay readable this long. Default 24 h. */
  retentionMs?: number;
  backoff?: BackoffOptions;
}

export interface BackoffOptions {
  /** Default 1,000 ms. */
  baseMs?: number;
  /** Default 60,000 ms. */
  maxMs?: number;
  /** 0..1 share of the delay that is random ("equal jitter"). Default 0.5. */
  jitter?: number;
}

export const QUEUE_DEFAULTS = {
  prefix: 'outbound',
  shards: 16,
  maxInFlightPerDevice: 1,
  perDeviceCap: 1_000,
  globalCap: 1_000_000,
  retentionMs: 24 * 3_600_000,
  backoff: { baseMs: 1_000, maxMs: 60_000, jitter: 0.5 },
} as const;

/** Exponential backoff with jitter for the attempt that just failed (1-based). */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = options.baseMs ?? QUEUE_DEFAULTS.backoff.baseMs;
  const max = options.maxMs ?? QUEUE_DEFAULTS.backoff.maxMs;
  const jitter = options.jitter ?? QUEUE_DEFAULTS.backoff.jitter;
  const exp = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (1 - jitter) + exp * jitter * random());
}
