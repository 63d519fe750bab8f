/** Items grouped by the shard each belongs to, in their order. */
export function groupByShard<T>(items: T[], shardOf: (item: T) => number): Map<number, T[]> {
  const byShard = new Map<number, T[]>();
  for (const item of items) {
    const shard = shardOf(item);
    const list = byShard.get(shard);
    if (list) list.push(item);
    else byShard.set(shard, [item]);
  }
  return byShard;
}

/**
 * One call per shard and chunk of at most `chunk` items, all at once (a script holds Redis for
 * its whole run, so chunks bound that time); resolves when every call has.
 */
export async function fanOut<T>(byShard: Map<number, T[]>, chunk: number, call: (shard: number, items: T[]) => Promise<void>): Promise<void> {
  const calls: Array<Promise<void>> = [];
  for (const [shard, items] of byShard) {
    for (let i = 0; i < items.length; i += chunk) calls.push(call(shard, items.slice(i, i + chunk)));
  }
  await Promise.all(calls);
}
