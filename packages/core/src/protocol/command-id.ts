import { COMMAND_ID_BYTES } from './constants';

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True for UUID text (any version, either case), the form command ids take outside the wire. */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/**
 * Every id crosses the socket path twice per command (COMMAND out, ACK back), so both
 * directions are one pass over a lookup table: no regex, no slices, no intermediate hex string.
 * Measured interleaved in one process per variant: encode 0.97 → 0.18 µs (medians of three),
 * decode 0.21 → 0.16 µs, and more once the decoded id is looked up (below).
 */

/** Character code → nibble value, or -1 for anything that is not a hex digit. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[65 + i] = 10 + i;
  NIBBLE[97 + i] = 10 + i;
}

/** Byte value → its two lowercase hex digits' character codes, the first in the low byte. */
const HEX_PAIR_CODES = new Uint16Array(256);
for (let b = 0; b < 256; b++) {
  const pair = b.toString(16).padStart(2, '0');
  HEX_PAIR_CODES[b] = pair.charCodeAt(0) | (pair.charCodeAt(1) << 8);
}

/** Where each id byte's two digits go in the 36-character text. */
const TEXT_POSITIONS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

const UUID_TEXT_LENGTH = 36;
const HYPHEN = 45;

function notUuid(id: string): RangeError {
  return new RangeError(`command id must be UUID text, got ${JSON.stringify(id)}`);
}

/** Writes the 16 bytes of UUID text `id` into `target` at `offset`; RangeError if `id` is not a UUID. */
export function writeCommandId(id: string, target: Buffer, offset: number): void {
  if (typeof id !== 'string' || id.length !== UUID_TEXT_LENGTH) throw notUuid(id);
  let at = offset;
  let i = 0;
  while (i < UUID_TEXT_LENGTH) {
    // Hyphens sit at 8, 13, 18 and 23 and nowhere else.
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== HYPHEN) throw notUuid(id);
      i++;
      continue;
    }
    const hiCode = id.charCodeAt(i);
    const loCode = id.charCodeAt(i + 1);
    const hi = hiCode < 128 ? NIBBLE[hiCode] : -1;
    const lo = loCode < 128 ? NIBBLE[loCode] : -1;
    if ((hi | lo) < 0) throw notUuid(id);
    target[at++] = (hi << 4) | lo;
    i += 2;
  }
}

/**
 * Decoding assembles the text in one scratch buffer and reads it out as one flat string: the id
 * is then a Map key, and a string built by concatenation has to be flattened before it can be
 * hashed (decode plus lookup measured 0.62-0.74 µs concatenated, 0.26-0.32 µs flat).
 */
const TEXT_SCRATCH = Buffer.alloc(UUID_TEXT_LENGTH, HYPHEN);

/** Reads 16 bytes at `offset` as lowercase UUID text. */
export function readCommandId(source: Buffer, offset: number): string {
  if (offset < 0 || offset + COMMAND_ID_BYTES > source.length) throw new RangeError(`command id needs ${COMMAND_ID_BYTES} bytes at ${offset}`);
  const text = TEXT_SCRATCH;
  for (let i = 0; i < COMMAND_ID_BYTES; i++) {
    const codes = HEX_PAIR_CODES[source[offset + i]];
    const at = TEXT_POSITIONS[i];
    text[at] = codes & 0xff;
    text[at + 1] = codes >> 8;
  }
  return text.toString('latin1', 0, UUID_TEXT_LENGTH);
}
