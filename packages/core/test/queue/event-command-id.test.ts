import { createHash, randomUUID } from 'node:crypto';
import { eventCommandId } from '../../src/queue/redis/event-log';
import { packBody, packFixed, payloadHash } from '../../src/queue/redis-v3/records-v3';

describe('eventCommandId', () => {
  it('packs the 32 hex digits of a 36-character id into 16 bytes, either case', () => {
    for (let i = 0; i < 200; i++) {
      const id = i % 2 === 0 ? randomUUID() : randomUUID().toUpperCase();
      expect(eventCommandId(id)).toEqual(Buffer.from(id.replace(/-/g, ''), 'hex'));
    }
    // The dashes' places are skipped, not checked.
    expect(eventCommandId('0123456789abcdef0123456789abcdef0123')).toEqual(Buffer.from('01234567' + '9abc' + 'ef01' + '3456' + '89abcdef0123', 'hex'));
  });

  it('answers any other id as its text', () => {
    for (const id of ['', 'short', randomUUID().slice(1), `${randomUUID()}0`, 'g2345678-1234-1234-1234-123456789abc', '12345678-1234-1234-1234-123456789abé', '12345678-1234-1234-1234-12345678 abc']) {
      expect(eventCommandId(id)).toBe(id);
    }
  });
});

describe('packFixed', () => {
  it('writes the texts in place: UTF-8 lengths and bytes, the payload hash, empty fields as zero lengths', () => {
    const payload = Buffer.from('payload ✓');
    const input = { phyId: 'dév-1', payload, priority: 7, maxAttempts: 3, ackTimeoutMs: 1_500, ttlMs: 60_000, idempotencyKey: 'clé', traceContext: '00-trace' };
    const packed = packFixed(input, 'fp');
    const texts = Buffer.concat([
      Buffer.from([Buffer.byteLength('dév-1')]), Buffer.from('dév-1'),
      Buffer.from([0, Buffer.byteLength('clé')]), Buffer.from('clé'),
      Buffer.from([2]), Buffer.from('fp'),
      Buffer.from([0, 8]), Buffer.from('00-trace'),
    ]);
    expect(packed.subarray(33, 41)).toEqual(createHash('sha256').update(payload).digest().subarray(0, 8));
    expect(payloadHash(payload)).toEqual(packed.subarray(33, 41));
    expect(packed.subarray(41)).toEqual(texts);
    const bare = packFixed({ ...input, idempotencyKey: undefined, traceContext: undefined }, '');
    expect(bare.subarray(41)).toEqual(Buffer.concat([Buffer.from([6]), Buffer.from('dév-1'), Buffer.from([0, 0, 0, 0, 0])]));
  });
});

describe('packBody', () => {
  it('is the fixed part, a zero done token and error, then the payload with its size', () => {
    const inputs = [
      { phyId: 'dév-1', payload: Buffer.from('payload ✓'), priority: 7, maxAttempts: 3, ackTimeoutMs: 1_500, ttlMs: 60_000, idempotencyKey: 'clé', traceContext: '00-trace', deliverAt: 1_700_000_000_123 },
      { phyId: 'DEV0001', payload: Buffer.alloc(64, 9), priority: 0, maxAttempts: 5, ackTimeoutMs: 10_000, ttlMs: 3_600_000 },
      { phyId: 'D', payload: Buffer.alloc(0), priority: 9, maxAttempts: 1, ackTimeoutMs: 100, ttlMs: 1 },
    ];
    for (const input of inputs) {
      const fingerprint = input.idempotencyKey === undefined ? '' : 'fp-✓';
      const size = Buffer.alloc(4);
      size.writeUInt32BE(input.payload.length);
      expect(packBody(input, fingerprint)).toEqual(Buffer.concat([packFixed(input, fingerprint), Buffer.from([0, 0, 0]), size, input.payload]));
    }
  });
});
