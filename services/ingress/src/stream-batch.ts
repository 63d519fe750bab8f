import { DELIVERY_ACK_TIMEOUT_MAX_MS, DELIVERY_BATCH_MAX, type DeliveryItem } from '@outbound/core/delivery';

/** A batch line of the delivery stream, read and every item checked. */
export interface CheckedStreamBatch {
  s: number;
  timing: boolean;
  items: DeliveryItem[];
}

/*
 * A batch line as the dispatcher writes it (encodeStreamBatch), byte for byte:
 *
 *   {"s":N,["timing":true,]"deliveries":[ITEM(,ITEM)*]}
 *   ITEM = {"phyId":"P","id":"UUID","payload":"BASE64","ackTimeoutMs":N[,"epoch":N][,"traceparent":"T"]}
 *
 * readCanonicalBatch() reads exactly this form straight from the socket's bytes: no UTF-8 decode
 * of the line, no JSON.parse building an object per item, no second pass to check each field and
 * no base64 string to decode. Whatever it does not recognise (whitespace, another key order, an
 * escape, a number written otherwise, a field out of range) it hands back to the general path
 * (JSON.parse, checkStreamBatch, checkDeliveryItem), which answers it; so every line it accepts
 * is one the general path would have accepted with the same items.
 */

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

const PREFIX_S = Buffer.from('{"s":', 'latin1');
const TIMING_TRUE = Buffer.from('"timing":true,', 'latin1');
const DELIVERIES = Buffer.from('"deliveries":[', 'latin1');
const ITEM_PHY_ID = Buffer.from('{"phyId":"', 'latin1');
const ITEM_ID = Buffer.from('","id":"', 'latin1');
const ITEM_PAYLOAD = Buffer.from('","payload":"', 'latin1');
const ITEM_ACK_TIMEOUT = Buffer.from('","ackTimeoutMs":', 'latin1');
const ITEM_EPOCH = Buffer.from(',"epoch":', 'latin1');
const ITEM_TRACEPARENT = Buffer.from(',"traceparent":"', 'latin1');

/** The longest traceparent a delivery may carry (as checkDeliveryItem). */
const TRACEPARENT_MAX = 256;
const PHY_ID_MAX = 64;
const UUID_TEXT = 36;
/** Digits of the largest integers read here (Number.MAX_SAFE_INTEGER has 16). */
const MAX_DIGITS = 15;

/** Byte → a phyId character ([A-Za-z0-9._:-]). */
const PHY_ID_BYTE = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-') PHY_ID_BYTE[c.charCodeAt(0)] = 1;
/** Byte → lowercase hex digit value + 1 (0: not one; uppercase ids take the general path, which echoes them as sent). */
const LOWER_HEX = new Uint8Array(256);
for (let i = 0; i < 16; i++) LOWER_HEX['0123456789abcdef'.charCodeAt(i)] = i + 1;
/** Byte → base64 sextet + 1 (0: not in the alphabet). */
const SEXTET = new Uint8Array(256);
for (let i = 0; i < 64; i++) SEXTET['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i + 1;
const EQUALS = 0x3d;
const HYPHEN = 0x2d;

/** Whether `buf` holds `word` at `at`, before `end`. */
function has(buf: Buffer, at: number, end: number, word: Buffer): boolean {
  if (at + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word[i]) return false;
  return true;
}

/**
 * Reads the items of a canonical batch line `buf[start, end)` (no newline), each checked as
 * checkDeliveryItem does with `maxPayloadBytes`; undefined when the line is not in the canonical
 * form or any item would not pass (the general path then answers it).
 */
export function readCanonicalBatch(buf: Buffer, start: number, end: number, maxPayloadBytes: number): CheckedStreamBatch | undefined {
  if (end > buf.length || !has(buf, start, end, PREFIX_S)) return undefined;
  let at = start + PREFIX_S.length;
  // s: a non-negative integer in plain digits.
  let s = 0;
  let digits = 0;
  const sStart = at;
  while (at < end && buf[at] >= 0x30 && buf[at] <= 0x39) {
    s = s * 10 + (buf[at] - 0x30);
    at++;
    digits++;
  }
  if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && buf[sStart] === 0x30) || at >= end || buf[at] !== COMMA) return undefined;
  at++;
  let timing = false;
  if (has(buf, at, end, TIMING_TRUE)) {
    timing = true;
    at += TIMING_TRUE.length;
  }
  if (!has(buf, at, end, DELIVERIES)) return undefined;
  at += DELIVERIES.length;
  const items: DeliveryItem[] = [];
  const maxPayloadChars = Math.ceil(maxPayloadBytes / 3) * 4 + 4;
  for (;;) {
    if (items.length === DELIVERY_BATCH_MAX) return undefined;
    // phyId: 1-64 characters of [A-Za-z0-9._:-] (none of them escaped in JSON).
    if (!has(buf, at, end, ITEM_PHY_ID)) return undefined;
    at += ITEM_PHY_ID.length;
    const phyStart = at;
    while (at < end && PHY_ID_BYTE[buf[at]] === 1) at++;
    const phyLength = at - phyStart;
    if (phyLength < 1 || phyLength > PHY_ID_MAX || !has(buf, at, end, ITEM_ID)) return undefined;
    at += ITEM_ID.length;
    // id: lowercase UUID text (RFC 9562 versions 1-8 and variant 10xx, or nil, or max).
    const idStart = at;
    if (at + UUID_TEXT > end || !isLowerUuid(buf, idStart)) return undefined;
    at += UUID_TEXT;
    if (!has(buf, at, end, ITEM_PAYLOAD)) return undefined;
    at += ITEM_PAYLOAD.length;
    // payload: padded base64 (groups of four, the last may end in = or ==).
    const payloadStart = at;
    while (at < end && buf[at] !== QUOTE) at++;
    const payloadChars = at - payloadStart;
    if (payloadChars > maxPayloadChars || payloadChars % 4 !== 0) return undefined;
    const payload = decodeBase64(buf, payloadStart, at);
    if (!payload || payload.length > maxPayloadBytes) return undefined;
    if (!has(buf, at, end, ITEM_ACK_TIMEOUT)) return undefined;
    at += ITEM_ACK_TIMEOUT.length;
    // ackTimeoutMs: 1..DELIVERY_ACK_TIMEOUT_MAX_MS.
    let ackTimeoutMs = 0;
    const ackStart = at;
    while (at < end && buf[at] >= 0x30 && buf[at] <= 0x39 && at - ackStart < 7) ackTimeoutMs = ackTimeoutMs * 10 + (buf[at++] - 0x30);
    if (at === ackStart || buf[ackStart] === 0x30 || ackTimeoutMs > DELIVERY_ACK_TIMEOUT_MAX_MS) return undefined;
    const item: DeliveryItem = { phyId: buf.toString('latin1', phyStart, phyStart + phyLength), id: buf.toString('latin1', idStart, idStart + UUID_TEXT), payload, ackTimeoutMs };
    if (has(buf, at, end, ITEM_EPOCH)) {
      at += ITEM_EPOCH.length;
      // epoch: an integer of at least 1.
      let epoch = 0;
      const epochStart = at;
      while (at < end && buf[at] >= 0x30 && buf[at] <= 0x39) epoch = epoch * 10 + (buf[at++] - 0x30);
      if (at === epochStart || at - epochStart > MAX_DIGITS || buf[epochStart] === 0x30) return undefined;
      item.epoch = epoch;
    }
    if (has(buf, at, end, ITEM_TRACEPARENT)) {
      at += ITEM_TRACEPARENT.length;
      // traceparent: at most 256 printable ASCII characters, none escaped.
      const tpStart = at;
      while (at < end && buf[at] >= 0x20 && buf[at] < 0x7f && buf[at] !== QUOTE && buf[at] !== 0x5c) at++;
      if (at - tpStart > TRACEPARENT_MAX || at >= end || buf[at] !== QUOTE) return undefined;
      item.traceparent = buf.toString('latin1', tpStart, at);
      at++;
    }
    if (at >= end || buf[at] !== CLOSE_BRACE) return undefined;
    at++;
    items.push(item);
    if (at < end && buf[at] === COMMA) {
      at++;
      continue;
    }
    if (at + 2 === end && buf[at] === CLOSE_BRACKET && buf[at + 1] === CLOSE_BRACE) return { s, timing, items };
    return undefined;
  }
}

/** The 36 bytes at `at` are lowercase UUID text that checkDeliveryItem accepts. */
function isLowerUuid(buf: Buffer, at: number): boolean {
  for (let i = 0; i < UUID_TEXT; i++) {
    const c = buf[at + i];
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== HYPHEN) return false;
    } else if (LOWER_HEX[c] === 0) {
      return false;
    }
  }
  const version = buf[at + 14];
  const variant = buf[at + 19];
  if (version >= 0x31 && version <= 0x38 && (variant === 0x38 || variant === 0x39 || variant === 0x61 || variant === 0x62)) return true;
  // Nil and max: every digit 0, or every digit f.
  const digit = buf[at];
  if (digit !== 0x30 && digit !== 0x66) return false;
  for (let i = 0; i < UUID_TEXT; i++) {
    const c = buf[at + i];
    if (c !== digit && c !== HYPHEN) return false;
  }
  return true;
}

/**
 * Decodes padded base64 `buf[start, end)` (a multiple of four characters), or undefined when a
 * character is outside the alphabet or `=` appears anywhere but in the last one or two places.
 * Bits past the last whole byte are dropped, as Buffer.from(text, 'base64') drops them.
 */
function decodeBase64(buf: Buffer, start: number, end: number): Buffer | undefined {
  let pad = 0;
  if (end > start && buf[end - 1] === EQUALS) pad = buf[end - 2] === EQUALS ? 2 : 1;
  const out = Buffer.allocUnsafe(((end - start) / 4) * 3 - pad);
  let o = 0;
  for (let at = start; at < end; at += 4) {
    const a = SEXTET[buf[at]];
    const b = SEXTET[buf[at + 1]];
    const last = at + 4 === end;
    const c = last && pad === 2 ? 1 : SEXTET[buf[at + 2]];
    const d = last && pad >= 1 ? 1 : SEXTET[buf[at + 3]];
    if (a === 0 || b === 0 || c === 0 || d === 0) return undefined;
    const bits = ((a - 1) << 18) | ((b - 1) << 12) | ((c - 1) << 6) | (d - 1);
    out[o++] = bits >> 16;
    if (o < out.length) out[o++] = (bits >> 8) & 0xff;
    if (o < out.length) out[o++] = bits & 0xff;
  }
  return out;
}
