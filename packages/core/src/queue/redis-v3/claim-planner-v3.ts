import { firstDepth, planClaim, type ShardScores } from '../redis/claim-plan';
import type { ClaimedCommand } from '../queue';
import { withoutScore } from '../redis/queue-input';
import type { ScoredClaimV3 } from './records-v3';

/**
 * How long what a shard answered (or a scan of every shard) is trusted without being told of a
 * change: the safety net under the wake messages. A change nobody publishes (another
 * dispatcher's scheduled enqueue, a lost message) is seen within this, as the idle wait's
 * timeout (DISPATCHER_IDLE_WAIT_MS, 1 s by default) saw it before.
 */
const TRUST_MS = 1_000;

/** What the planner asks of the shards (the queue runs the scripts and reads). */
export interface ShardAccess {
  /** claim-1.lua on one shard for up to `count` (0: promote due work and answer fresh scores only). */
  claim(shard: number, count: number): Promise<ScoredClaimV3[]>;
  /** promote-1.lua: due work made claimable, and the shard's best `depth` scores. */
  promote(shard: number, depth: number): Promise<number[]>;
  /** Per shard: devices ready now, and ms until its first schedule or retry wait ends (null none). */
  readAll(): Promise<Array<{ ready: number; dueInMs: number | null }>>;
  /** Runs `send`, which issues one claim per shard, so those calls leave in one socket write. */
  together<T>(send: () => T): T;
}

/**
 * The cross-shard claim of the v3 layout: the scores each shard last answered (claim, ack,
 * enqueue and promote replies carry them), the merge that decides each shard's share
 * (redis/claim-plan.ts), and when every shard must be read. docs/redis-keys.md ("Across
 * shards") states what order this keeps.
 *
 * Wake-driven: a shard is asked only when it can have work: a wake message named it (the queue
 * calls `forget`), its first schedule or retry wait ended (the last scan's due times), or what
 * it last answered is older than TRUST_MS. Every shard is read (`scan`) only when a claim came
 * back short while some shard's answer was not trusted, or before a wait when the last scan is
 * older than TRUST_MS or a change asked for one (`rescan`: a retry or schedule this process
 * made, whose due time the wait must know). Measured at 50 commands/s (quick e2e, one
 * dispatcher): 45 Redis calls per command in all, against 146 when every short claim read
 * every shard (bench/README.md, "Redis v3 by default").
 */
export class ClaimPlannerV3 {
  private readonly known = new Map<number, ShardScores>();
  private depth = 0;
  /** Per shard, Date.now() at which its first schedule or retry wait ends (last scan), null none. */
  private readonly dueAt: Array<number | null>;
  /** Date.now() of the last scan of every shard; 0: a change asks for a new one. */
  private scannedAt = 0;
  private readonly shardList: number[];
  /** Forgets so far, and per shard (and for all) the count at its last forget. */
  private forgets = 0;
  private allForgottenAt = 0;
  private readonly forgottenAt: number[] = [];

  constructor(readonly shards: number) {
    this.shardList = Array.from({ length: shards }, (_, i) => i);
    this.dueAt = this.shardList.map(() => null);
  }

  /** How many best scores a script should answer now (none with one shard: nothing to merge). */
  get answerDepth(): number {
    return this.shards === 1 ? 0 : this.depth;
  }

  /**
   * Mark to take just before sending a script whose answer goes to `remember`. Wake messages
   * come on their own connection: one that names a shard may be read before the answer of a
   * call sent earlier, and that answer, older than the message, must not undo the forget.
   */
  mark(): number {
    return this.forgets;
  }

  /** A script's answer of its shard's best scores (asked with `depth`; `sentAt`: mark() when it was sent). */
  remember(shard: number, scores: number[], depth: number, sentAt = Infinity): void {
    if (depth > 0 && !this.forgottenSince(shard, sentAt)) this.known.set(shard, { scores, depth, at: Date.now() });
  }

  /** What we knew of a shard (or of all) may be wrong now. */
  forget(shard?: number): void {
    this.forgets += 1;
    if (shard === undefined) {
      this.known.clear();
      this.allForgottenAt = this.forgets;
    } else {
      this.known.delete(shard);
      this.forgottenAt[shard] = this.forgets;
    }
  }

  /** Whether a forget of this shard came after mark `sentAt`. */
  private forgottenSince(shard: number, sentAt: number): boolean {
    return Math.max(this.allForgottenAt, this.forgottenAt[shard] ?? 0) > sentAt;
  }

  /** A schedule or retry wait began (this process made it): the next wait reads every shard's due times first. */
  rescan(): void {
    this.scannedAt = 0;
  }

  /** Up to `max` commands, best first, from the shards whose best commands they are. */
  async claim(max: number, access: ShardAccess): Promise<ClaimedCommand[]> {
    if (this.shards === 1) return (await access.claim(0, max)).map(withoutScore);
    this.depth = firstDepth(max, this.shards);
    const now = Date.now();
    this.forgetDue(now);
    const staleBefore = now - TRUST_MS;
    const heard = new Set<number>();
    const taken: ScoredClaimV3[] = [];
    try {
      for (let round = 0; round < 3 && taken.length < max; round += 1) {
        // Short. Every shard answered lately and none changed since: plan again from what they
        // answered while one of them still names ready work (another dispatcher's claim, which
        // tells nobody, may have emptied the shard this plan chose), else that is all there is.
        // A shard not heard from lately: read every shard first.
        if (round > 0 && (this.trusted(staleBefore) ? !this.knowsReadyWork() : (await this.scan(access)) !== 0)) break;
        const sentAt = this.mark();
        const counts = await access.together(() => planClaim(max - taken.length, this.shardList, this.known, (shard, depth) => access.promote(shard, depth), heard));
        // planClaim stored what each shard answered: not for a shard forgotten while it was asked
        for (const shard of heard) if (this.forgottenSince(shard, sentAt)) this.known.delete(shard);
        const targets = this.shardList.filter((shard) => (counts.get(shard) ?? 0) > 0 || (!heard.has(shard) && (this.known.get(shard)?.at ?? 0) < staleBefore));
        if (targets.length === 0) continue;
        const replies = await Promise.allSettled(access.together(() => targets.map((shard) => access.claim(shard, counts.get(shard) ?? 0))));
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
   * The claims that may go with an ack of `acks` (per shard, how many of its commands it acks)
   * so that together they take up to `max` commands, none of which a `claim` after the ack would
   * have passed over for better work known before the ack (what the acks make ready: below): per
   * shard, a count and a bound (the worst score the claim may take, Infinity any). Made from what
   * the shards last answered, without asking any.
   *
   * An ack can make ready at most one command per command it acks (the slot it frees), so of the
   * `max` places, `spare` = max - acks go to the best `spare` known scores (the plan `claim` would
   * make, each shard its count) and the rest to what the acks free. A shard being acked claims in
   * its ack script its count plus its acks, up to the worst of those `spare` scores, or, with no
   * spare, up to the best score known of every other shard: its script takes its own best first,
   * so anything it takes has fewer than `max` better commands anywhere. A shard with no share
   * that holds ready work above its bound claims nothing in its ack script; its places go to the
   * next best known scores of shards not being acked (plain claims in the same write), so an
   * acked device's next command, made ready by the ack itself, may wait for the next claim
   * while they are taken. null when `claim` would
   * ask first (a shard not heard from within TRUST_MS, or whose first schedule or retry wait
   * ended; with spare places, one whose every answered score made the cut), or when the acks
   * outnumber `max`.
   */
  planWithAcks(max: number, acks: ReadonlyMap<number, number>): Map<number, { count: number; bound: number }> | null {
    let acked = 0;
    for (const n of acks.values()) acked += n;
    const spare = max - acked;
    if (spare < 0) return null;
    if (this.shards === 1) return new Map([[0, { count: max, bound: Infinity }]]);
    this.depth = firstDepth(max, this.shards);
    const now = Date.now();
    this.forgetDue(now);
    const staleBefore = now - TRUST_MS;
    const best: Array<{ shard: number; score: number }> = [];
    for (const shard of this.shardList) {
      const entry = this.known.get(shard);
      if (!entry || entry.at < staleBefore) return null;
      for (const score of entry.scores) best.push({ shard, score });
    }
    best.sort((a, b) => a.score - b.score);
    const counts = new Map<number, number>();
    let cut: number | null = null;
    if (spare > 0) {
      const top = best.slice(0, spare);
      cut = top.length === spare ? top[spare - 1]!.score : Infinity;
      for (const shard of this.shardList) {
        const { scores, depth } = this.known.get(shard)!;
        if (depth < max && scores.length === depth && scores[depth - 1]! <= cut) return null;
      }
      for (const { shard } of top) counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    const plan = new Map<number, { count: number; bound: number }>();
    for (const [shard, count] of counts) if (!acks.has(shard)) plan.set(shard, { count, bound: Infinity });
    for (const [shard, n] of acks) {
      const share = counts.get(shard) ?? 0;
      const bound = cut ?? best.find((b) => b.shard !== shard)?.score ?? Infinity;
      // A shard holding ready work worse than the bound is left to the caller's claim: only what
      // its acks free could beat the bound, which is rarely so (at claim batch 64, 16 shards:
      // 4 % more instructions per command for claims that took next to nothing).
      const own = this.known.get(shard)!.scores[0];
      if (share > 0 || own === undefined || own <= bound) plan.set(shard, { count: share + n, bound });
    }
    // Such a shard's places go to the next best scores known on shards not being acked, claimed
    // in the same write as the acks, when none of those shards may hold better than it answered:
    // one request, not the acks and then a claim (at claim batch 1, the command whose next is on
    // another shard). What the acks make ready is not known yet: an acked device's next command
    // that beats them waits for the next claim.
    let left = 0;
    for (const [shard, n] of acks) if (!plan.has(shard)) left += n;
    const more = left > 0 ? best.slice(spare).filter((b) => !acks.has(b.shard)).slice(0, left) : [];
    if (more.length > 0) {
      const worst = more[more.length - 1]!.score;
      const deeper = this.shardList.some((shard) => {
        if (acks.has(shard)) return false;
        const { scores, depth } = this.known.get(shard)!;
        return depth < max && scores.length === depth && scores[depth - 1]! <= worst;
      });
      if (!deeper) for (const { shard } of more) plan.set(shard, { count: (plan.get(shard)?.count ?? 0) + 1, bound: Infinity });
    }
    return plan;
  }

  /**
   * Before a wait: 0 when work may be ready now, else ms until the next schedule or retry wait
   * ends (null none). From the last scan while it is trusted, else from a new one.
   */
  async nextDueInMs(access: ShardAccess): Promise<number | null> {
    const now = Date.now();
    if (now - this.scannedAt >= TRUST_MS) return this.scan(access);
    let next: number | null = null;
    for (const due of this.dueAt) if (due !== null && (next === null || due - now < next)) next = Math.max(0, due - now);
    return next;
  }

  /** Reads every shard: 0 when work is ready now, else ms until the next schedule or retry wait ends, null when none. */
  async scan(access: ShardAccess): Promise<number | null> {
    const at = Date.now();
    const shards = await access.readAll();
    let next: number | null = null;
    shards.forEach(({ ready, dueInMs }, shard) => {
      if (ready > 0 || dueInMs === 0) this.known.delete(shard);
      this.dueAt[shard] = dueInMs === null ? null : at + dueInMs;
      const inMs = ready > 0 ? 0 : dueInMs;
      if (inMs !== null && (next === null || inMs < next)) next = inMs;
    });
    this.scannedAt = at;
    return next;
  }

  /** True when some shard last answered a claimable score. */
  private knowsReadyWork(): boolean {
    for (const entry of this.known.values()) if (entry.scores.length > 0) return true;
    return false;
  }

  /** True when every shard answered since `since` and no message or due time made us forget one. */
  private trusted(since: number): boolean {
    for (const shard of this.shardList) if ((this.known.get(shard)?.at ?? 0) < since) return false;
    return true;
  }

  /**
   * Shards whose first schedule or retry wait has ended are asked again (the promote or claim
   * script makes that work claimable), and the next wait reads their next due time.
   */
  private forgetDue(now: number): void {
    this.dueAt.forEach((due, shard) => {
      if (due === null || due > now) return;
      this.known.delete(shard);
      this.dueAt[shard] = null;
      this.scannedAt = 0;
    });
  }
}
