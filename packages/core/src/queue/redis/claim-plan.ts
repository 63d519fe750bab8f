/** A shard's best claimable scores as it last answered them, and how many were asked for. */
export interface ShardScores {
  scores: number[];
  depth: number;
  /** Date.now() when the shard answered. */
  at: number;
}

/**
 * Which shards hold the best `max` claimable commands across all shards, and how many each.
 *
 * Shards answer the scores of only their best few claimable commands (`depth`), not `max` of
 * them: a claim of 64 over 16 shards needs about 4 per shard, and every score costs Redis a
 * double-to-text conversion (asking each shard for `max` was ~1,000 scores per claim of 64).
 * `known` holds what shards answered in their last claim or ack replies; shards missing from
 * it are asked with `ask` (the promote script, which also makes due work claimable). A shard
 * that answered `depth` scores may hold more; that matters only when its last answered score
 * made the cut, and only those shards are asked again, deeper. So the merge is exact over
 * the scores it used. `known` is updated with every answer, and `answeredNow` gets every
 * shard asked.
 */
export async function planClaim(
  max: number,
  shards: number[],
  known: Map<number, ShardScores>,
  ask: (shard: number, depth: number) => Promise<number[]>,
  answeredNow?: Set<number>,
): Promise<Map<number, number>> {
  let depth = firstDepth(max, shards.length);
  // A snapshot: other calls on the queue drop entries from `known` while this awaits.
  const view = new Map<number, ShardScores>();
  for (const shard of shards) {
    const entry = known.get(shard);
    if (entry) view.set(shard, entry);
  }
  let pending = shards.filter((shard) => !view.has(shard));
  for (;;) {
    const replies = await Promise.all(pending.map(async (shard) => [shard, await ask(shard, depth)] as const));
    for (const [shard, scores] of replies) {
      const entry = { scores, depth, at: Date.now() };
      view.set(shard, entry);
      known.set(shard, entry);
      answeredNow?.add(shard);
    }
    const best: Array<{ shard: number; score: number }> = [];
    for (const shard of shards) for (const score of view.get(shard)!.scores) best.push({ shard, score });
    best.sort((a, b) => a.score - b.score);
    best.length = Math.min(best.length, max);
    const cut = best.length === max ? best[max - 1].score : Infinity;
    pending = shards.filter((shard) => {
      const { scores, depth: asked } = view.get(shard)!;
      return asked < max && scores.length === asked && (asked === 0 || scores[asked - 1] <= cut);
    });
    if (pending.length === 0) {
      const counts = new Map<number, number>();
      for (const { shard } of best) counts.set(shard, (counts.get(shard) ?? 0) + 1);
      return counts;
    }
    depth = Math.min(max, Math.max(1, depth, ...pending.map((shard) => view.get(shard)!.depth)) * 4);
  }
}

/** Twice a fair share plus two: a shard rarely holds more of the best `max` than that. */
export function firstDepth(max: number, shards: number): number {
  return Math.min(max, Math.ceil((2 * max) / shards) + 2);
}
