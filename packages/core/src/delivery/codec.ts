import { PHY_ID_MESSAGE, PHY_ID_PATTERN } from '../command/limits';
import type { FieldIssue } from '../command/types';
import {
  DELIVERY_ACK_TIMEOUT_MAX_MS, DELIVERY_BATCH_MAX,
  type DeliveryAnswer, type DeliveryAnswerLine, type DeliveryHopTimes, type DeliveryItem, type DeliveryOutcomeName, type DeliveryStreamAnswer,
} from './contract';

// The checks below are written by hand instead of a zod schema per item: a batch of 500 paid
// ~1.4 µs per item in zod's object parse on the ingress, for rules this short (bench/README.md,
// "The fast path"). The request envelope and the public API keep their zod schemas.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The UUID form zod's `z.uuid()` accepts (RFC 9562 versions 1–8, nil and max). */
const UUID = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
const ITEM_KEYS = new Set(['phyId', 'id', 'payload', 'ackTimeoutMs', 'epoch', 'traceparent']);
/** The longest trace context a delivery may carry (the stores keep at most this much). */
const TRACEPARENT_MAX = 256;
const OUTCOMES = new Set<DeliveryOutcomeName>(['ok', 'rejected', 'busy']);
/** The result of an ACK that carried none (never written to: Buffers of length 0 hold nothing). */
const EMPTY = Buffer.alloc(0);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

function at(prefix: (string | number)[], field?: string): string {
  const parts = field === undefined ? prefix : [...prefix, field];
  return parts.map(String).join('.') || '(body)';
}

/**
 * Checks the batch envelope `{ deliveries: [...] }` (1..DELIVERY_BATCH_MAX items, nothing else)
 * and answers the raw items, or the issues naming the field. Each item is checked on its own
 * (checkDeliveryItem): one bad item is answered on its own line, the others are delivered.
 */
export function checkDeliveryBatch(body: unknown): { items: unknown[] } | { issues: FieldIssue[] } {
  if (!isRecord(body)) return { issues: [{ path: '(body)', message: 'must be a JSON object' }] };
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(body)) if (key !== 'deliveries') issues.push({ path: '(body)', message: `Unrecognized key: "${key}"` });
  const deliveries = body.deliveries;
  if (!Array.isArray(deliveries)) issues.push({ path: 'deliveries', message: 'must be an array' });
  else if (deliveries.length < 1 || deliveries.length > DELIVERY_BATCH_MAX) issues.push({ path: 'deliveries', message: `must hold 1 to ${DELIVERY_BATCH_MAX} deliveries` });
  return issues.length > 0 ? { issues } : { items: deliveries as unknown[] };
}

/**
 * Checks one delivery and decodes it, or answers every failing field under `prefix`
 * (`['deliveries', 3]` in a batch, `[]` for the single endpoint). `phyId` comes from the item,
 * or from the URL when given (then the item must not carry one).
 */
export function checkDeliveryItem(
  raw: unknown,
  maxPayloadBytes: number,
  prefix: (string | number)[] = [],
  phyIdFromPath?: string,
): { item: DeliveryItem } | { issues: FieldIssue[] } {
  if (!isRecord(raw)) return { issues: [{ path: at(prefix), message: 'must be an object' }] };
  const issues: FieldIssue[] = [];
  for (const key in raw) {
    if (!ITEM_KEYS.has(key) || (key === 'phyId' && phyIdFromPath !== undefined)) issues.push({ path: at(prefix), message: `Unrecognized key: "${key}"` });
  }
  const phyId = phyIdFromPath ?? raw.phyId;
  if (typeof phyId !== 'string' || !PHY_ID_PATTERN.test(phyId)) issues.push({ path: phyIdFromPath === undefined ? at(prefix, 'phyId') : 'phyId', message: PHY_ID_MESSAGE });
  const { id, payload, ackTimeoutMs, epoch, traceparent } = raw;
  if (typeof id !== 'string' || !UUID.test(id)) issues.push({ path: at(prefix, 'id'), message: 'must be a UUID' });
  if (typeof payload !== 'string' || payload.length > Math.ceil(maxPayloadBytes / 3) * 4 + 4 || !BASE64.test(payload)) {
    issues.push({ path: at(prefix, 'payload'), message: 'must be base64' });
  } else if (Buffer.byteLength(payload, 'base64') > maxPayloadBytes) {
    issues.push({ path: at(prefix, 'payload'), message: `must decode to at most ${maxPayloadBytes} bytes` });
  }
  if (!isInt(ackTimeoutMs) || ackTimeoutMs < 1 || ackTimeoutMs > DELIVERY_ACK_TIMEOUT_MAX_MS) {
    issues.push({ path: at(prefix, 'ackTimeoutMs'), message: `must be an integer from 1 to ${DELIVERY_ACK_TIMEOUT_MAX_MS}` });
  }
  if (epoch !== undefined && (!isInt(epoch) || epoch < 1)) issues.push({ path: at(prefix, 'epoch'), message: 'must be an integer of at least 1' });
  if (traceparent !== undefined && (typeof traceparent !== 'string' || traceparent.length > TRACEPARENT_MAX)) {
    issues.push({ path: at(prefix, 'traceparent'), message: `must be a string of at most ${TRACEPARENT_MAX} characters` });
  }
  if (issues.length > 0) return { issues };
  // Fields set one by one: conditional spreads take V8's generic object-clone path.
  const item: DeliveryItem = { phyId: phyId as string, id: (id as string).toLowerCase(), payload: Buffer.from(payload as string, 'base64'), ackTimeoutMs: ackTimeoutMs as number };
  if (epoch !== undefined) item.epoch = epoch as number;
  if (traceparent !== undefined) item.traceparent = traceparent as string;
  return { item };
}

const STREAM_BATCH_KEYS = new Set(['s', 'timing', 'deliveries']);

/**
 * Checks one batch line of the delivery stream, already JSON-parsed: `s` a non-negative
 * integer, `timing` a boolean when present, `deliveries` as in checkDeliveryBatch. Answers the
 * raw items (each checked on its own, as in a batch call) or the issues naming the field, with
 * `s` whenever the line carried a usable one.
 */
export function checkStreamBatch(body: unknown): { s: number; timing: boolean; items: unknown[] } | { s: number | null; issues: FieldIssue[] } {
  if (!isRecord(body)) return { s: null, issues: [{ path: '(line)', message: 'must be a JSON object' }] };
  const s = isInt(body.s) && body.s >= 0 ? body.s : null;
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(body)) if (!STREAM_BATCH_KEYS.has(key)) issues.push({ path: '(line)', message: `Unrecognized key: "${key}"` });
  if (s === null) issues.push({ path: 's', message: 'must be an integer of at least 0' });
  if (body.timing !== undefined && typeof body.timing !== 'boolean') issues.push({ path: 'timing', message: 'must be a boolean' });
  const deliveries = body.deliveries;
  if (!Array.isArray(deliveries)) issues.push({ path: 'deliveries', message: 'must be an array' });
  else if (deliveries.length < 1 || deliveries.length > DELIVERY_BATCH_MAX) issues.push({ path: 'deliveries', message: `must hold 1 to ${DELIVERY_BATCH_MAX} deliveries` });
  return issues.length > 0 ? { s, issues } : { s: s!, timing: body.timing === true, items: deliveries as unknown[] };
}

/** One batch line of the delivery stream (with its newline). */
export function encodeStreamBatch(s: number, items: readonly DeliveryItem[], timing = false): string {
  // The batch body's fields after a prefix of its own: building the body and then slicing its
  // opening brace off copied every batch's text once more (a sliced rope is flattened first).
  return `${encodeItems(`{"s":${s},${timing ? '"timing":true,' : ''}"deliveries":[`, items)}]}\n`;
}

/** One answer line of the delivery stream (with its newline): encodeAnswerLine's line tagged with batch `s`. */
export function encodeStreamAnswerLine(s: number | null, id: unknown, phyId: unknown, answer: DeliveryAnswer, checked = false): string {
  return answerLine(`{"s":${s === null ? 'null' : s},`, id, phyId, answer, checked);
}

/** Decodes one answer line of the delivery stream; throws DeliveryLineError when it is not one. */
export function parseStreamAnswerLine(line: string): DeliveryStreamAnswer {
  const raw = parseJsonLine(line);
  if (!isRecord(raw) || (raw.s !== null && !(isInt(raw.s) && raw.s >= 0))) throw new DeliveryLineError(`stream answer line lacks its batch number s: ${line.slice(0, 120)}`);
  const answer = decodeAnswer(raw, line) as DeliveryStreamAnswer;
  answer.s = raw.s as number | null;
  return answer;
}

/** The batch request body for `items`. */
export function encodeDeliveryBatch(items: readonly DeliveryItem[]): string {
  return `${encodeItems('{"deliveries":[', items)}]}`;
}

/** `head` followed by the items of a batch, comma-separated. */
function encodeItems(head: string, items: readonly DeliveryItem[]): string {
  // Built as text: every field but phyId is a UUID, base64 or a number, and phyId goes through
  // JSON.stringify, so the result is the JSON.stringify of the same object at a third of its cost.
  let body = head;
  for (let i = 0; i < items.length; i++) {
    const d = items[i]!;
    body += `${i === 0 ? '' : ','}{"phyId":${JSON.stringify(d.phyId)},"id":"${d.id}","payload":"${d.payload.toString('base64')}","ackTimeoutMs":${d.ackTimeoutMs}${d.epoch === undefined ? '' : `,"epoch":${d.epoch}`}${d.traceparent === undefined ? '' : `,"traceparent":${JSON.stringify(d.traceparent)}`}}`;
  }
  return body;
}

/**
 * One NDJSON answer line (with its newline) for the delivery named `id`/`phyId` (null when the
 * item carried no usable string). `checked`: the caller vouches that both passed
 * checkDeliveryItem (a UUID and a phyId need no escaping), so they are not matched again.
 */
export function encodeAnswerLine(id: unknown, phyId: unknown, answer: DeliveryAnswer, checked = false): string {
  return answerLine('{', id, phyId, answer, checked);
}

/** An answer line after `open` (`{` or the stream's `{"s":N,`). */
function answerLine(open: string, id: unknown, phyId: unknown, answer: DeliveryAnswer, checked: boolean): string {
  if (answer.status === 200 && 'outcome' in answer && !answer.t && typeof id === 'string' && typeof phyId === 'string' && (checked || (UUID.test(id) && PHY_ID_PATTERN.test(phyId)))) {
    // The line of every delivered command, built as text with no object on the way: a checked
    // id and phyId need no escaping, and the rest are a known word, base64 and a number.
    return `${open}"id":"${id}","phyId":"${phyId}","status":200,"outcome":"${answer.outcome}","result":"${answer.result.length ? answer.result.toString('base64') : ''}","latencyMs":${answer.latencyMs}}\n`;
  }
  const head = { id: typeof id === 'string' ? id : null, phyId: typeof phyId === 'string' ? phyId : null };
  const t = answer.t ? { t: answer.t } : {};
  let json: string;
  if (answer.status === 200 && 'outcome' in answer) {
    json = JSON.stringify({ ...head, status: 200, outcome: answer.outcome, result: answer.result.length ? answer.result.toString('base64') : '', latencyMs: answer.latencyMs, ...t });
  } else {
    const { error } = answer as Extract<DeliveryAnswer, { error: unknown }>;
    json = JSON.stringify({ ...head, status: answer.status, error: { code: error.code, message: error.message }, ...t });
  }
  return `${open}${json.slice(1)}\n`;
}

/** A line that is not a delivery answer: the stream cannot be trusted further. */
export class DeliveryLineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryLineError';
  }
}

function checkTimes(value: unknown): DeliveryHopTimes | undefined {
  if (!isRecord(value) || typeof value.received !== 'number' || typeof value.answered !== 'number') return undefined;
  return value as unknown as DeliveryHopTimes;
}

function parseJsonLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw new DeliveryLineError(`answer line is not JSON: ${line.slice(0, 120)}`, { cause: error });
  }
}

/** Decodes one NDJSON answer line; throws DeliveryLineError when it is not one. */
export function parseAnswerLine(line: string): DeliveryAnswerLine {
  return decodeAnswer(parseJsonLine(line), line);
}

function decodeAnswer(raw: unknown, line: string): DeliveryAnswerLine {
  if (!isRecord(raw) || !isInt(raw.status) || (raw.id !== null && typeof raw.id !== 'string') || (raw.phyId !== null && typeof raw.phyId !== 'string')) {
    throw new DeliveryLineError(`answer line lacks id, phyId or status: ${line.slice(0, 120)}`);
  }
  const id = raw.id as string | null;
  const phyId = raw.phyId as string | null;
  const t = checkTimes(raw.t);
  // Built field by field: object spreads here cost ~8 µs per line (V8's generic clone path), 4x the JSON.parse.
  let answer: DeliveryAnswerLine;
  if (raw.status === 200) {
    const outcome = raw.outcome as DeliveryOutcomeName;
    if (!OUTCOMES.has(outcome) || (raw.result !== undefined && typeof raw.result !== 'string')) throw new DeliveryLineError(`answer line with status 200 lacks a valid outcome: ${line.slice(0, 120)}`);
    const result = typeof raw.result === 'string' && raw.result ? Buffer.from(raw.result, 'base64') : EMPTY;
    answer = { id, phyId, status: 200, outcome, result, latencyMs: typeof raw.latencyMs === 'number' ? raw.latencyMs : 0 };
  } else {
    const error = isRecord(raw.error) && typeof raw.error.code === 'string' && typeof raw.error.message === 'string'
      ? { code: raw.error.code, message: raw.error.message }
      : { code: 'INTERNAL', message: `ingress answered ${raw.status as number}` };
    answer = { id, phyId, status: raw.status as number, error };
  }
  if (t) answer.t = t;
  return answer;
}

/**
 * Splits a byte stream into lines (LF, an optional CR dropped). Only a line cut by a chunk
 * boundary is copied; the rest is decoded straight out of the chunk.
 */
export class LineSplitter {
  private rest: Buffer | null = null;

  /** Calls `onLine` for each complete non-empty line in `chunk` (after what earlier chunks left). */
  push(chunk: Buffer, onLine: (line: string) => void): void {
    let data = chunk;
    if (this.rest) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let start = 0;
    let newline: number;
    while ((newline = data.indexOf(10, start)) >= 0) {
      const end = newline > start && data[newline - 1] === 13 ? newline - 1 : newline;
      if (end > start) onLine(data.toString('utf8', start, end));
      start = newline + 1;
    }
    if (start < data.length) this.rest = data.subarray(start);
  }

  /** The last line when the stream ended without a newline. */
  end(onLine: (line: string) => void): void {
    const rest = this.rest;
    this.rest = null;
    if (rest && rest.length > 0) {
      const text = rest.toString('utf8').trim();
      if (text) onLine(text);
    }
  }
}
