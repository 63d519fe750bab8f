import type { AckItem, EnqueueResult, FailItem, ReleaseItem, StoreEnqueueItem } from '../queue';
import { eventCommandId } from '../redis/event-log';
import { packBody, RECORD_STATUS, toClaimReplyV3, type ScoredClaimV3 } from './records-v3';
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

/**
 * Numbers a script reads with one struct.unpack of doubles (`>dd...`) instead of an ARGV
 * string each and a tonumber: Redis makes a Lua string of every argument of every call.
 */
export function packNumbers(...values: number[]): Buffer {
  const out = Buffer.allocUnsafe(8 * values.length);
  values.forEach((value, i) => out.writeDoubleBE(value, 8 * i));
  return out;
}

/**
 * enqueue-1.lua: the numbers (caps, settings, n, depth, the token's memory, and a claim for the
 * enqueuing process' dispatch loop: claimMax, 0 none, and its leaseMs) packed, the wake
 * channel, the request token (the claim's lease token), then 7 per item (the record's body
 * packed: records-v3.ts packBody).
 */
export function enqueueArgs(
  items: StoreEnqueueItem[],
  s: ShardSettings & { perDeviceCap: number; shardCap: number; depth: number; requestToken: string; claim?: { max: number; leaseMs: number } },
): Arg[] {
  const numbers = packNumbers(s.maxInFlight, s.perDeviceCap, s.shardCap, s.retentionMs, items.length, s.depth, s.claimMemoryMs, s.claim?.max ?? 0, s.claim?.leaseMs ?? 0);
  const args: Arg[] = [numbers, s.wake, s.requestToken];
  for (const input of items) {
    const fingerprint = input.idempotencyKey ? input.fingerprint : ''; // compared only on a repeated key
    const deliverAt = input.deliverAt === undefined ? '' : Math.trunc(input.deliverAt);
    args.push(input.id, input.phyId, deliverAt, input.idempotencyKey ?? '', fingerprint, packBody(input, fingerprint), eventCommandId(input.id));
  }
  return args;
}

/**
 * enqueue-1.lua's `{items, scores}`, each item 0 (created: `ids`' id at its place, queued) or
 * `{code, id, status}`, and with a claim (run for Buffers: its records are binary) `claim`, the
 * reply as claim-1.lua answers it, read with the request token.
 */
export function parseEnqueueReply(
  reply: unknown,
  ids: readonly string[],
  token?: string,
): { answers: Array<ItemAnswer & { id: string }>; scores: number[]; claimed: ScoredClaimV3[] } {
  const [items, scores, claim] = reply as [Array<number | [number, string | Buffer, string | Buffer]>, Array<string | number | Buffer>, Buffer[] | undefined];
  return {
    answers: items.map((item, j) =>
      typeof item === 'number' ? { code: item, id: ids[j]!, status: 'queued' } : { code: Number(item[0]), id: String(item[1]), status: String(item[2]) as EnqueueResult['status'] },
    ),
    scores: scores.map((score) => Number(String(score))),
    claimed: claim && token !== undefined ? toClaimReplyV3(claim, token).claimed : [],
  };
}

/** claim-1.lua: max, leaseMs, maxInFlight, retentionMs, depth, keep payload (packed), then the token. */
export function claimArgs(max: number, leaseMs: number, token: string, s: Pick<ShardSettings, 'maxInFlight' | 'retentionMs' | 'keepPayload'> & { depth: number }): Arg[] {
  return [packNumbers(max, leaseMs, s.maxInFlight, s.retentionMs, s.depth, s.keepPayload ? 1 : 0), token];
}

/** claim-1.lua's `{leaseExpiresAt, d, d scores, id, record, ...}` (Buffers). */
export function parseClaimReply(reply: unknown, token: string): { claimed: ScoredClaimV3[]; scores: number[] } {
  return toClaimReplyV3(reply as Buffer[], token);
}

/** The claim an ack script makes after its acks: up to max, none with a score above bound (-1: any), under token. */
export interface AckClaim {
  max: number;
  leaseMs: number;
  bound: number;
  token: string;
}

/**
 * ack-1.lua: the numbers (settings, n, this process's clock: the acked records' updatedAt, and
 * the claim's max, 0 none, leaseMs and bound) packed, the wake channel, the claim's token ('' none),
 * then 5 per item: id, token, outcome and result in one ('a'/'j', 'A'/'J' followed by the
 * result), replica ('' none), the id as events hold it.
 */
export function ackArgs(items: AckItem[], s: ShardSettings & { depth: number; claim?: AckClaim | undefined }): Arg[] {
  const c = s.claim;
  const numbers = packNumbers(s.maxInFlight, s.retentionMs, s.depth, s.claimMemoryMs, s.keepPayload ? 1 : 0, items.length, Date.now(), c?.max ?? 0, c?.leaseMs ?? 0, c?.bound ?? -1);
  const args: Arg[] = [numbers, s.wake, c?.token ?? ''];
  for (const item of items) {
    const ok = item.outcome === 'ok';
    // An empty result (what most devices answer) needs no copy: the letter alone says it.
    const outcome = item.result === undefined ? (ok ? 'a' : 'j') : item.result.length === 0 ? (ok ? 'A' : 'J') : Buffer.concat([ok ? UPPER_A : UPPER_J, item.result]);
    args.push(item.id, item.leaseToken, outcome, item.replica ?? '', eventCommandId(item.id));
  }
  return args;
}
const UPPER_A = Buffer.from('A');
const UPPER_J = Buffer.from('J');

/** ack-1.lua's status numbers are a record's status byte (RECORD_STATUS), 2 in flight, 0 none. */
const INFLIGHT_STATUS = 2;

/**
 * ack-1.lua's `{items, scores}`, one integer per item (status * 4 - code: an ack answers 12,
 * code 0 and status acked), and with a claim (run for Buffers: its records are binary) `claim`,
 * as claim-1.lua answers it, read with the claim's token.
 */
export function parseAckReply(reply: unknown, token?: string): { answers: ItemAnswer[]; scores: number[]; claimed: ScoredClaimV3[] } {
  const [items, scores, claim] = reply as [Array<number | string | Buffer>, Array<string | number | Buffer>, Buffer[] | undefined];
  const answers: ItemAnswer[] = [];
  for (const item of items) {
    const value = Number(item);
    const status = value >> 2;
    answers.push({ code: status * 4 - value, status: status === INFLIGHT_STATUS ? 'inflight' : (RECORD_STATUS[status] ?? '') });
  }
  return { answers, scores: scores.map((score) => Number(String(score))), claimed: claim && token !== undefined ? toClaimReplyV3(claim, token).claimed : [] };
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
