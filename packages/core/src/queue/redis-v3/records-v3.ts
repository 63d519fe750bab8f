import { hash } from 'node:crypto';
import type { CommandStatus, EnqueueInput, StoredCommand, WaitingFor } from '../../command';
import type { ClaimedCommand } from '../queue';

/**
 * The v3 command record: one Redis string per command (lua/includes/v3.lua describes every
 * byte). The caller packs the part that needs no Redis clock (from byte 39) and reads records
 * back here, so Lua does no per-field formatting.
 */

/** Status codes in byte 2 of a record. In flight is never written: the device state says so. */
export const RECORD_STATUS: Record<number, CommandStatus> = { 1: 'queued', 3: 'acked', 4: 'rejected', 5: 'expired', 6: 'dead', 7: 'cancelled' };
const FLAG_DELIVER_AT = 2;
const FLAG_RESULT = 4;
/** A finished record in its minute's hash: the pending-only fields gone (lua/includes/v3.lua). */
const FLAG_COMPACT = 128;
/** An event log entry id at the end of a record: I6 ms, I4 seq. */
const EVENT_ID_BYTES = 10;
/** Where the caller's part starts (1-based 39 in Lua). */
const FIXED_AT = 38;

/** First 8 bytes of the payload's SHA-256: what a finished record keeps when its payload is dropped. */
export function payloadHash(payload: Buffer): Buffer {
  // The one-shot hash: a Hash object per command (createHash, update, digest) cost ~3x as much.
  return hash('sha256', payload, 'buffer').subarray(0, 8);
}

/**
 * What an enqueue's record holds from byte 39 to its event ids, packed here so the script
 * only puts its head (times, score) before it and the queued entry's id after: the fixed part
 * (packFixed), no done token, no error, then the payload with its size. Lua's struct.pack
 * copies a string byte by byte (about 20 instructions a byte); a concatenation does not.
 * Written into one buffer (the fixed part, then the rest after it), not three concatenated.
 */
export function packBody(input: EnqueueInput, fingerprint: string): Buffer {
  const lengths = fixedLengths(input, fingerprint);
  const fixed = fixedSize(lengths);
  const out = Buffer.allocUnsafe(fixed + 7 + input.payload.length);
  let o = writeFixed(out, input, fingerprint, lengths);
  out[o++] = 0; // B 0 (done token)
  out[o++] = 0; // H 0 (error)
  out[o++] = 0;
  o = out.writeUInt32BE(input.payload.length, o); // I4 payload size
  input.payload.copy(out, o);
  return out;
}

/**
 * The record bytes from 39 to the end of the fixed part: priority, maxAttempts, ackTimeoutMs,
 * ttlMs, deliverAt, payload size and hash, phyId, idempotency key, fingerprint, trace context
 * (two bytes of length when none).
 */
export function packFixed(input: EnqueueInput, fingerprint: string): Buffer {
  const lengths = fixedLengths(input, fingerprint);
  const out = Buffer.allocUnsafe(fixedSize(lengths));
  writeFixed(out, input, fingerprint, lengths);
  return out;
}

/** The UTF-8 lengths of the fixed part's texts: phyId, idempotency key, fingerprint, trace context. */
interface FixedLengths {
  phy: number;
  idem: number;
  fp: number;
  trace: number;
}

function fixedLengths(input: EnqueueInput, fingerprint: string): FixedLengths {
  const idem = input.idempotencyKey ?? '';
  const trace = input.traceContext ?? '';
  return {
    phy: Buffer.byteLength(input.phyId, 'utf8'),
    idem: idem === '' ? 0 : Buffer.byteLength(idem, 'utf8'),
    fp: fingerprint === '' ? 0 : Buffer.byteLength(fingerprint, 'utf8'),
    trace: trace === '' ? 0 : Buffer.byteLength(trace, 'utf8'),
  };
}

function fixedSize(l: FixedLengths): number {
  return 41 + 1 + l.phy + 2 + l.idem + 1 + l.fp + 2 + l.trace;
}

/** The fixed part at the start of `out` (the texts measured and written in place, not copied out of a Buffer each); answers the offset after it. */
function writeFixed(out: Buffer, input: EnqueueInput, fingerprint: string, l: FixedLengths): number {
  let o = out.writeUInt8(input.priority, 0);
  o = out.writeUInt32BE(input.maxAttempts, o);
  o = out.writeDoubleBE(input.ackTimeoutMs, o);
  o = out.writeDoubleBE(input.ttlMs, o);
  o = out.writeDoubleBE(input.deliverAt === undefined ? 0 : Math.trunc(input.deliverAt), o);
  o = out.writeUInt32BE(input.payload.length, o);
  const digest = payloadHash(input.payload);
  for (let i = 0; i < 8; i++) out[o++] = digest[i]!;
  o = out.writeUInt8(l.phy, o);
  o = writeText(out, o, input.phyId, l.phy);
  o = out.writeUInt16BE(l.idem, o);
  if (l.idem > 0) o += out.write(input.idempotencyKey!, o, l.idem, 'utf8');
  o = out.writeUInt8(l.fp, o);
  if (l.fp > 0) o += out.write(fingerprint, o, l.fp, 'utf8');
  o = out.writeUInt16BE(l.trace, o);
  if (l.trace > 0) o += out.write(input.traceContext!, o, l.trace, 'utf8');
  return o;
}

/** `text` (`length` bytes of UTF-8) at `o`; answers the offset after it. An ASCII text is copied by a loop: a `write` call costs more for a phyId. */
function writeText(out: Buffer, o: number, text: string, length: number): number {
  if (length !== text.length) return o + out.write(text, o, length, 'utf8');
  for (let i = 0; i < length; i++) out[o + i] = text.charCodeAt(i);
  return o + length;
}

/** A record's fields as the scripts wrote them. */
export interface RecordFields {
  status: CommandStatus;
  attempts: number;
  updatedAt: number;
  createdAt: number;
  expiresAt: number;
  score: number;
  priority: number;
  maxAttempts: number;
  ackTimeoutMs: number;
  ttlMs: number;
  deliverAt: number | null;
  payloadSize: number;
  payloadHash: Buffer;
  phyId: string;
  idempotencyKey: string | null;
  lastError: string | null;
  /** Empty when dropped at finish (payloadSize and payloadHash stay). */
  payload: Buffer;
  payloadDropped: boolean;
  result: Buffer | null;
  traceContext: string | undefined;
  /** The ids of the command's event log entries (`<ms>-<seq>`), oldest first. */
  eventIds: string[];
}

/** Where the compact form's fields sit (0-based); the full form is FIXED_AT + offset. */
const FULL = { priority: FIXED_AT, maxAttempts: FIXED_AT + 1, ackTimeoutMs: FIXED_AT + 5, ttlMs: FIXED_AT + 13, deliverAt: FIXED_AT + 21, size: FIXED_AT + 29, hash: FIXED_AT + 33, phy: FIXED_AT + 41 };
const COMPACT = { priority: 24, maxAttempts: 25, ackTimeoutMs: 29, ttlMs: -1, deliverAt: -1, size: 33, hash: 37, phy: 45 };

export function parseRecord(rec: Buffer): RecordFields {
  const flags = rec[0]!;
  const status = RECORD_STATUS[rec[1]!];
  if (!status) throw new Error(`stored v3 record has unknown status code ${rec[1]}`);
  const at = flags & FLAG_COMPACT ? COMPACT : FULL;
  let o = at.phy;
  const phyLen = rec[o]!;
  const phyId = rec.toString('utf8', o + 1, o + 1 + phyLen);
  o += 1 + phyLen;
  const idemLen = rec.readUInt16BE(o);
  const idem = rec.toString('utf8', o + 2, o + 2 + idemLen);
  o += 2 + idemLen;
  o += 1 + rec[o]!; // fingerprint
  const traceLen = rec.readUInt16BE(o);
  const traceContext = traceLen > 0 ? rec.toString('utf8', o + 2, o + 2 + traceLen) : undefined;
  o += 2 + traceLen;
  let deliverAt: number | null = null;
  if (flags & FLAG_DELIVER_AT) {
    deliverAt = at === COMPACT ? rec.readUIntBE(o, 6) : rec.readDoubleBE(at.deliverAt);
    if (at === COMPACT) o += 6;
  }
  o += 1 + rec[o]!; // done token
  const errLen = rec.readUInt16BE(o);
  const lastError = rec.toString('utf8', o + 2, o + 2 + errLen);
  o += 2 + errLen;
  const payloadLen = rec.readUInt32BE(o);
  const payload = rec.subarray(o + 4, o + 4 + payloadLen);
  o += 4 + payloadLen;
  const result = flags & FLAG_RESULT ? rec.subarray(o + 4, o + 4 + rec.readUInt32BE(o)) : null;
  if (result) o += 4 + result.length;
  const eventIds: string[] = [];
  for (; o + EVENT_ID_BYTES <= rec.length; o += EVENT_ID_BYTES) eventIds.push(`${rec.readUIntBE(o, 6)}-${rec.readUInt32BE(o + 6)}`);
  const compact = at === COMPACT;
  const createdAt = compact ? rec.readUIntBE(12, 6) : rec.readDoubleBE(14);
  const expiresAt = compact ? rec.readUIntBE(18, 6) : rec.readDoubleBE(22);
  return {
    status,
    attempts: rec.readUInt32BE(2),
    updatedAt: compact ? rec.readUIntBE(6, 6) : rec.readDoubleBE(6),
    createdAt,
    expiresAt,
    score: compact ? NaN : rec.readDoubleBE(30),
    priority: rec[at.priority]!,
    maxAttempts: rec.readUInt32BE(at.maxAttempts),
    ackTimeoutMs: compact ? rec.readUInt32BE(at.ackTimeoutMs) : rec.readDoubleBE(at.ackTimeoutMs),
    ttlMs: compact ? expiresAt - createdAt : rec.readDoubleBE(at.ttlMs),
    deliverAt,
    payloadSize: rec.readUInt32BE(at.size),
    payloadHash: rec.subarray(at.hash, at.hash + 8),
    phyId,
    idempotencyKey: idemLen > 0 ? idem : null,
    lastError: errLen > 0 ? lastError : null,
    payload,
    payloadDropped: (flags & 1) !== 0,
    result,
    traceContext,
    eventIds,
  };
}

/**
 * A script's view of one command, `[id, record, inflight, claimedAt | waitingFor]`
 * (lua/includes/v3.lua view()), as StoredCommand.
 */
export function toStoredCommandV3(view: Buffer[]): StoredCommand {
  const [idBuf, rec, inflightBuf, extraBuf] = view as [Buffer, Buffer, Buffer | number, Buffer];
  const r = parseRecord(rec);
  const inflight = Number(inflightBuf.toString()) === 1;
  const extra = extraBuf.toString();
  return {
    id: idBuf.toString(),
    phyId: r.phyId,
    payload: r.payload,
    priority: r.priority,
    attempts: inflight ? r.attempts + 1 : r.attempts,
    maxAttempts: r.maxAttempts,
    ackTimeoutMs: r.ackTimeoutMs,
    createdAt: r.createdAt,
    updatedAt: inflight ? Number(extra) : r.updatedAt,
    expiresAt: r.expiresAt,
    deliverAt: r.deliverAt,
    idempotencyKey: r.idempotencyKey,
    status: inflight ? 'inflight' : r.status,
    waitingFor: !inflight && r.status === 'queued' && extra !== '' ? (extra as WaitingFor) : null,
    lastError: r.lastError,
    result: r.result,
    ...(r.traceContext === undefined ? {} : { traceContext: r.traceContext }),
  };
}

/** A claimed command with its line score, for merging shards. */
export type ScoredClaimV3 = ClaimedCommand & { score: number };

/** claim-1.lua's answer: leaseExpiresAt, d, d scores, then id and record per command. */
export function toClaimReplyV3(flat: Buffer[], leaseToken: string): { claimed: ScoredClaimV3[]; scores: number[] } {
  const leaseExpiresAt = Number(flat[0]!.toString());
  const d = Number(flat[1]!.toString());
  const scores: number[] = new Array(d);
  for (let i = 0; i < d; i += 1) scores[i] = Number(flat[2 + i]!.toString());
  const claimed: ScoredClaimV3[] = [];
  for (let i = 2 + d; i + 1 < flat.length; i += 2) claimed.push(claimedFrom(flat[i]!.toString(), flat[i + 1]!, leaseToken, leaseExpiresAt));
  return { claimed, scores };
}

/**
 * A claimed command straight from its pending record: only the fields a claim answers are
 * read (parseRecord reads every field, the error text and the event ids too), and the object
 * is built field by field in one shape (a conditional spread takes V8's generic clone path).
 */
function claimedFrom(id: string, rec: Buffer, leaseToken: string, leaseExpiresAt: number): ScoredClaimV3 {
  if ((rec[0]! & FLAG_COMPACT) !== 0 || RECORD_STATUS[rec[1]!] === undefined) {
    // Not a pending record (a claim answers none other): read as any record is.
    const r = parseRecord(rec);
    return scored(id, r.phyId, r.payload, r.priority, r.attempts + 1, r.maxAttempts, r.ackTimeoutMs, r.expiresAt, r.createdAt, leaseToken, leaseExpiresAt, r.traceContext, r.score);
  }
  let o = FULL.phy;
  const phyLen = rec[o]!;
  const phyId = rec.toString('utf8', o + 1, o + 1 + phyLen);
  o += 1 + phyLen;
  o += 2 + rec.readUInt16BE(o); // idempotency key
  o += 1 + rec[o]!; // fingerprint
  const traceLen = rec.readUInt16BE(o);
  const traceContext = traceLen > 0 ? rec.toString('utf8', o + 2, o + 2 + traceLen) : undefined;
  o += 2 + traceLen;
  o += 1 + rec[o]!; // done token
  o += 2 + rec.readUInt16BE(o); // last error
  const payloadLen = rec.readUInt32BE(o);
  const payload = rec.subarray(o + 4, o + 4 + payloadLen);
  return scored(
    id, phyId, payload, rec[FULL.priority]!, rec.readUInt32BE(2) + 1, rec.readUInt32BE(FULL.maxAttempts), rec.readDoubleBE(FULL.ackTimeoutMs),
    rec.readDoubleBE(22), rec.readDoubleBE(14), leaseToken, leaseExpiresAt, traceContext, rec.readDoubleBE(30),
  );
}

function scored(
  id: string, phyId: string, payload: Buffer, priority: number, attempts: number, maxAttempts: number, ackTimeoutMs: number,
  expiresAt: number, createdAt: number, leaseToken: string, leaseExpiresAt: number, traceContext: string | undefined, score: number,
): ScoredClaimV3 {
  const claimed: ScoredClaimV3 = { id, phyId, payload, priority, attempts, maxAttempts, ackTimeoutMs, expiresAt, createdAt, leaseToken, leaseExpiresAt, score };
  if (traceContext !== undefined) claimed.traceContext = traceContext;
  return claimed;
}

