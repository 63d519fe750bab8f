import type { AckItem, EnqueueResult, FailItem, ReleaseItem, StoreEnqueueItem } from '../queue';
import { eventCommandId } from '../redis/event-log';
import { packFixed, toClaimReplyV3, type ScoredClaimV3 } from './records-v3';
import type { Arg } from './scripts-v3';

/**
 * One argument builder and one reply parser per v3 script that takes items (the header of
 * each lua/<name>-<keys>.lua lists the same ARGV in the same order). Positions live here and
 * in the Lua, nowhere else.
 */

/** What every shard script that may make a device ready needs to know of the queue. */
export interface ShardSettings {
  maxInFlight: number;
  retentionMs: number;
  /** `<wake channel>\n<origin>`: the publisher names itself so it can ignore its own wakes. */
  wake: string;
  claimMemoryMs: number;
  keepPayload: boolean;
}

/** A script's answer for one item: a ScriptCode and the status it left (or found). */
export interface ItemAnswer {
  code: number;
  status: string;
}

const flag = (on: boolean): '1' | '0' => (on ? '1' : '0');

/** enqueue-1.lua: caps, then 10 per item, then depth, request token, its memory. */
export function enqueueArgs(
  items: StoreEnqueueItem[],
  s: ShardSettings & { perDeviceCap: number; shardCap: number; depth: number; requestToken: string },
): Arg[] {
  const args: Arg[] = [s.maxInFlight, s.perDeviceCap, s.shardCap, s.retentionMs, s.wake, items.length];
  for (const input of items) {
    const fingerprint = input.idempotencyKey ? input.fingerprint : ''; // compared only on a repeated key
    const deliverAt = input.deliverAt === undefined ? '' : Math.trunc(input.deliverAt);
    args.push(input.id, input.phyId, input.priority, input.ttlMs, deliverAt, input.idempotencyKey ?? '', fingerprint, packFixed(input, fingerprint), input.payload, eventCommandId(input.id));
  }
  args.push(s.depth, s.requestToken, s.claimMemoryMs);
  return args;
}

/** enqueue-1.lua's `{items: {code, id, status}, scores}`. */
export function parseEnqueueReply(reply: unknown): { answers: Array<ItemAnswer & { id: string }>; scores: number[] } {
  const [items, scores] = reply as [Array<[number, string, string]>, Array<string | number>];
  return {
    answers: items.map(([code, id, status]) => ({ code: Number(code), id: String(id), status: String(status) as EnqueueResult['status'] })),
    scores: scores.map(Number),
  };
}

/** claim-1.lua: max, leaseMs, maxInFlight, token, retentionMs, depth, keep payload. */
export function claimArgs(max: number, leaseMs: number, token: string, s: Pick<ShardSettings, 'maxInFlight' | 'retentionMs' | 'keepPayload'> & { depth: number }): Arg[] {
  return [max, leaseMs, s.maxInFlight, token, s.retentionMs, s.depth, flag(s.keepPayload)];
}

/** claim-1.lua's `{leaseExpiresAt, d, d scores, id, record, ...}` (Buffers). */
export function parseClaimReply(reply: unknown, token: string): { claimed: ScoredClaimV3[]; scores: number[] } {
  return toClaimReplyV3(reply as Buffer[], token);
}

/** ack-1.lua: settings, n, this process's clock (the acked records' updatedAt), then 6 per item (the result prefixed '1', or '0' for none; the replica, '' none; the id as events hold it). */
export function ackArgs(items: AckItem[], s: ShardSettings & { depth: number }): Arg[] {
  const args: Arg[] = [s.maxInFlight, s.retentionMs, s.wake, s.depth, s.claimMemoryMs, flag(s.keepPayload), items.length, Date.now()];
  for (const item of items) {
    args.push(item.id, item.leaseToken, item.outcome, item.result === undefined ? '0' : Buffer.concat([ONE, item.result]), item.replica ?? '', eventCommandId(item.id));
  }
  return args;
}
const ONE = Buffer.from('1');

/** ack-1.lua's `{items: {code, status}, scores}`. */
export function parseAckReply(reply: unknown): { answers: ItemAnswer[]; scores: number[] } {
  const [items, scores] = reply as [Array<[number, string]>, Array<string | number>];
  return { answers: parseItems(items), scores: scores.map(Number) };
}

/** fail-1.lua: maxInFlight, retentionMs, n, backoff, claim memory, keep payload, then 8 per item. */
export function failArgs(items: FailItem[], s: ShardSettings & { backoff: { baseMs: number; maxMs: number; jitter: number } }, random: () => number = Math.random): Arg[] {
  const { baseMs, maxMs, jitter } = s.backoff;
  const args: Arg[] = [s.maxInFlight, s.retentionMs, items.length, baseMs, maxMs, jitter, s.claimMemoryMs, flag(s.keepPayload)];
  for (const item of items) {
    const delay = item.retryDelayMs === undefined ? '' : Math.max(0, Math.round(item.retryDelayMs));
    args.push(item.id, item.leaseToken, item.error, flag(item.retryable), delay, random(), item.replica ?? '', eventCommandId(item.id));
  }
  return args;
}

/** release-1.lua: maxInFlight, wake, claim memory, n, then 4 per item. */
export function releaseArgs(items: ReleaseItem[], s: ShardSettings): Arg[] {
  const args: Arg[] = [s.maxInFlight, s.wake, s.claimMemoryMs, items.length];
  for (const item of items) args.push(item.id, item.leaseToken, flag(item.deviceOffline === true), item.reason ?? '');
  return args;
}

/** fail-1.lua's and release-1.lua's `{code, status}` per item. */
export function parseItemsReply(reply: unknown): ItemAnswer[] {
  return parseItems(reply as Array<[number, string]>);
}

function parseItems(items: Array<[number, string]>): ItemAnswer[] {
  return items.map(([code, status]) => ({ code: Number(code), status: String(status) }));
}
