import { fnv1a32 } from '../../src/queue/redis/keys';

/** FNV-1a over the UTF-8 bytes, written out: what places every device and id (it must never change). */
function reference(value: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(value, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

describe('fnv1a32 (device placement)', () => {
  it('answers the published FNV-1a 32-bit values', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of ASCII and non-ASCII texts alike', () => {
    const texts = ['DEV0001', 'SIM00042', 'a.b_c:d-9', 'D'.repeat(64), 'DÉV', '€uro', 'emoji 😀', 'x\u007f', 'x\u0080'];
    for (let i = 0; i < 500; i++) texts.push(`DEV${i.toString(36)}${String.fromCharCode(32 + (i % 200))}`);
    for (const text of texts) expect([text, fnv1a32(text)]).toEqual([text, reference(text)]);
  });
});
