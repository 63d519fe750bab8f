import { randomUUID } from 'node:crypto';
import { readCommandId, writeCommandId } from '@outbound/core';

/** The regex the one-pass encoder replaced: it stays the reference for what counts as UUID text. */
const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Deterministic, so a failure names the same input on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
}

const REPLACEMENTS = ['-', 'g', 'G', 'x', ' ', '0', 'f', 'F', 'é', '\u0100', '\u{1F600}', '', '--', 'a'];

describe('command id text ⇄ 16 bytes', () => {
  it('round-trips random UUIDs and answers lowercase text, at any offset', () => {
    const buffer = Buffer.alloc(40, 0xee);
    for (let i = 0; i < 2000; i++) {
      const id = randomUUID();
      const offset = i % 24;
      writeCommandId(i % 2 ? id.toUpperCase() : id, buffer, offset);
      expect(buffer.subarray(offset, offset + 16).toString('hex')).toBe(id.replace(/-/g, ''));
      expect(readCommandId(buffer, offset)).toBe(id);
    }
  });

  it('reads every byte value as its two hex digits', () => {
    const buffer = Buffer.alloc(16 * 16);
    for (let b = 0; b < 256; b++) buffer[b] = b;
    for (let start = 0; start < 256; start += 16) {
      const hex = buffer.subarray(start, start + 16).toString('hex');
      expect(readCommandId(buffer, start)).toBe(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
    }
  });

  it('accepts exactly the UUID texts the pattern accepts, writing nothing it refuses', () => {
    const next = lcg(16);
    const cases: string[] = ['', 'not-a-uuid', ' '.repeat(36), '-'.repeat(36), `${randomUUID()} `, ` ${randomUUID()}`, randomUUID().replace(/-/g, '')];
    for (let i = 0; i < 4000; i++) {
      const chars = [...randomUUID()];
      const edits = 1 + (next() % 2);
      for (let e = 0; e < edits; e++) chars[next() % chars.length] = REPLACEMENTS[next() % REPLACEMENTS.length];
      cases.push(chars.join(''));
    }
    let accepted = 0;
    for (const text of cases) {
      const target = Buffer.alloc(16);
      if (UUID_TEXT.test(text)) {
        accepted++;
        writeCommandId(text, target, 0);
        expect(readCommandId(target, 0)).toBe(text.toLowerCase());
      } else {
        expect(() => writeCommandId(text, target, 0)).toThrow(RangeError);
      }
    }
    // Both branches ran many times: replacements that keep a valid UUID and ones that break it.
    expect(accepted).toBeGreaterThan(100);
    expect(cases.length - accepted).toBeGreaterThan(1000);
  });

  it('refuses to read past the end of the buffer', () => {
    expect(() => readCommandId(Buffer.alloc(15), 0)).toThrow(RangeError);
    expect(() => readCommandId(Buffer.alloc(20), 5)).toThrow(RangeError);
  });
});
