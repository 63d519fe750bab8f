import type { RedisClient } from '../../redis/connection';

/** Runs one Redis call as the queue runs every call (liveness, failure classification). */
export type GatedCall = <T>(operation: string, issue: () => Promise<T>) => Promise<T>;

/**
 * Redis TIME and then `reads` (read-only commands, each within one shard), answered in that
 * order: one pipelined round trip on a standalone server; Cluster sends them one by one (a
 * pipeline must stay in one slot). A failed read fails the call, classified as any call.
 */
export async function readWithTime(client: RedisClient, call: GatedCall, operation: string, reads: Array<[string, ...string[]]>): Promise<unknown[]> {
  if (client.isCluster) {
    return Promise.all([
      call(operation, () => client.time()),
      ...reads.map(([name, ...args]) => call(operation, () => client.call(name, ...args))),
    ]);
  }
  const answers = (await call(operation, () => client.pipeline([['time'], ...reads]).exec())) ?? [];
  const failed = answers.find(([error]) => error);
  if (failed) await call(operation, () => Promise.reject(failed[0])); // the same mapping as a command that failed alone
  return answers.map(([, value]) => value);
}

/** The Redis clock now, epoch ms. */
export async function redisNowMs(client: RedisClient, call: GatedCall): Promise<number> {
  const [seconds, micros] = await call('time', () => client.time());
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/**
 * The age of the oldest ready command, read from the shards' `ready` sets alone (both Redis
 * layouts score them alike). A device's
 * score there is its head's `(9 - priority) * PRIORITY_STEP + seq` (lua/includes/shard.lua, v3.lua), seq
 * being its enqueue time in microseconds of the Redis clock since SEQ_EPOCH_S. The set's best
 * entry is the highest priority, not the oldest; the lowest score within each priority band is
 * that band's oldest head, so ten `ZRANGEBYSCORE ... LIMIT 0 1` per shard (O(log n) each) find
 * the oldest, whatever the queue holds.
 */
const PRIORITY_STEP = 562_949_953_421_312;
const SEQ_EPOCH_S = 1_735_689_600;
const BANDS = 10;

/** The reads of one shard's `ready` set, one per priority band, lowest score first. */
export function oldestReadyReads(ready: string): Array<[string, ...string[]]> {
  return Array.from({ length: BANDS }, (_, band): [string, ...string[]] => [
    'zrangebyscore', ready, String(band * PRIORITY_STEP), `(${(band + 1) * PRIORITY_STEP}`, 'WITHSCORES', 'LIMIT', '0', '1',
  ]);
}

/**
 * Seconds from the oldest head to `time` (a Redis TIME reply); 0 when no shard has a ready
 * device. `heads` are the answers to oldestReadyReads of any number of shards, in order.
 */
export function oldestReadyAge(time: [string, string], heads: unknown[]): number {
  let oldestSeq = Infinity;
  heads.forEach((head, i) => {
    const score = (head as string[])[1];
    if (score !== undefined) oldestSeq = Math.min(oldestSeq, Number(score) - (i % BANDS) * PRIORITY_STEP);
  });
  if (oldestSeq === Infinity) return 0;
  const nowSeq = (Number(time[0]) - SEQ_EPOCH_S) * 1e6 + Number(time[1]);
  return Math.max(0, nowSeq - oldestSeq) / 1e6;
}
