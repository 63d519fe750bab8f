import { withoutScore } from '../redis/queue-input';
import { firstDepth, planClaim, type ShardScores } from '../redis/claim-plan';
import type { ClaimedCommand } from '../queue';
import type { ScoredClaimV3 } from './records-v3';

/** A shard's known scores older than this are refreshed by the next claim (a claim of 0 there). */
const PLAN_TTL_MS = 100;
/** A waiting claimer reuses a scan this recent instead of reading every shard again. */
const SCAN_REUSE_MS = 5;

/** What the planner asks of the shards (the queue runs the scripts and reads). */
export interface ShardAccess {
  /** claim-1.lua on one shard for up to `count` (0: promote due work and answer fresh scores only). */
  claim(shard: number, count: number): Promise<ScoredClaimV3[]>;
  /** promote-1.lua: due work made claimable, and the shard's best `depth` scores. */
  promote(shard: number, depth: number): Promise<number[]>;
  /** Per shard: devices ready now, and ms until its first schedule or retry wait ends (null none). */
  readAll(): Promise<Array<{ ready: number; dueInMs: number | null }>>;
}

/**
 * The cross-shard claim of the v3 layout: the scores each shard last answered (claim, ack,
 * enqueue and promote replies carry them), the merge that decides each shard's share
 * (redis/claim-plan.ts), and the read of every shard when a claim comes back short.
 * docs/redis-keys.md ("Across shards") states what order this keeps.
 */
export class ClaimPlannerV3 {
  private readonly known = new Map<number, ShardScores>();
  private depth = 0;
  private lastScan: { at: number; inMs: number | null } | null = null;
  private readonly shardList: number[];

  constructor(readonly shards: number) {
    this.shardList = Array.from({ length: shards }, (_, i) => i);
  }

  /** How many best scores a script should answer now (none with one shard: nothing to merge). */
  get answerDepth(): number {
    return this.shards === 1 ? 0 : this.depth;
  }

  /** A script's answer of its shard's best scores (asked with `depth`). */
  remember(shard: number, scores: number[], depth: number): void {
    if (depth > 0) this.known.set(shard, { scores, depth, at: Date.now() });
  }

  /** What we knew of a shard (or of all) may be wrong now. */
  forget(shard?: number): void {
    if (shard === undefined) this.known.clear();
    else this.known.delete(shard);
  }

  /** Up to `max` commands, best first, from the shards whose best commands they are. */
  async claim(max: number, access: ShardAccess): Promise<ClaimedCommand[]> {
    if (this.shards === 1) return (await access.claim(0, max)).map(withoutScore);
    this.depth = firstDepth(max, this.shards);
    const heard = new Set<number>();
    const staleBefore = Date.now() - PLAN_TTL_MS;
    const taken: ScoredClaimV3[] = [];
    try {
      for (let round = 0; round < 3 && taken.length < max; round += 1) {
        if (round > 0 && (await this.scan(access)) !== 0) break;
        const counts = await planClaim(max - taken.length, this.shardList, this.known, (shard, depth) => access.promote(shard, depth), heard);
        const targets = this.shardList.filter((shard) => (counts.get(shard) ?? 0) > 0 || (!heard.has(shard) && (this.known.get(shard)?.at ?? 0) < staleBefore));
        if (targets.length === 0) {
          if (round > 0) break;
          continue;
        }
        const replies = await Promise.allSettled(targets.map((shard) => access.claim(shard, counts.get(shard) ?? 0)));
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

  /** 0 when work is ready now, else ms until the next schedule or retry wait ends, null when none. */
  async scan(access: ShardAccess): Promise<number | null> {
    const at = Date.now();
    const shards = await access.readAll();
    let next: number | null = null;
    shards.forEach(({ ready, dueInMs }, shard) => {
      if (ready > 0 || dueInMs === 0) this.known.delete(shard);
      const inMs = ready > 0 ? 0 : dueInMs;
      if (inMs !== null && (next === null || inMs < next)) next = inMs;
    });
    this.lastScan = { at, inMs: next };
    return next;
  }

  /** The last scan's answer when it is at most a few ms old (a claim that came back short just read it). */
  recentScan(): number | null | undefined {
    return this.lastScan && Date.now() - this.lastScan.at <= SCAN_REUSE_MS ? this.lastScan.inMs : undefined;
  }
}
