import { Command, ReplyError } from 'ioredis';
import { createRedisClient, encodeRespCall, sendEncoded, type RespArg } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';

/** What ioredis itself writes for the same call. */
function ioredisBytes(name: string, args: RespArg[]): Buffer {
  const writable = new Command(name, args).toWritable(undefined as never);
  return Buffer.isBuffer(writable) ? writable : Buffer.from(writable);
}

describe('encodeRespCall', () => {
  it('writes the bytes ioredis writes for the same call', () => {
    const cases: RespArg[][] = [
      ['k', 1],
      ['k', Buffer.from([0, 1, 2, 13, 10]), 'héllo wörld ✓', '', Buffer.alloc(0), 12_345_678, -3.5, 0],
      ['x'.repeat(63), 'y'.repeat(64), 'z'.repeat(65), 'é'.repeat(40), Buffer.alloc(64, 7), Buffer.alloc(65, 9), Buffer.alloc(100_000, 1)],
      Array.from({ length: 1_200 }, (_, i) => (i % 3 === 0 ? `id-${i}` : i % 3 === 1 ? Buffer.from([i & 255]) : i)),
    ];
    for (const args of cases) {
      expect(encodeRespCall(['FCALL'], args).equals(ioredisBytes('FCALL', args))).toBe(true);
      expect(encodeRespCall(['FCALL', ...args.slice(0, 1)], args.slice(1)).equals(ioredisBytes('FCALL', args))).toBe(true);
    }
  });
});

describe('sendEncoded', () => {
  const prefix = uniquePrefix('resp');
  const clients: Array<ReturnType<typeof createRedisClient>> = [];
  const client = (): ReturnType<typeof createRedisClient> => {
    const made = createRedisClient({ url: testRedisUrl() });
    clients.push(made);
    return made;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it('answers as call and callBuffer do: strings, Buffers, and errors as ReplyError', async () => {
    const redis = client();
    const value = Buffer.from([0, 255, 13, 10, 1, 2]);
    expect(await sendEncoded(redis, 'SET', [`${prefix}:a`], [value], false)).toBe('OK');
    expect(await sendEncoded(redis, 'GET', [], [`${prefix}:a`], true)).toEqual(value);
    expect(await sendEncoded(redis, 'APPEND', [`${prefix}:b`], ['héllo'], false)).toBe(Buffer.byteLength('héllo'));
    expect(await sendEncoded(redis, 'GET', [`${prefix}:b`], [], false)).toBe('héllo');
    expect(await sendEncoded(redis, 'MGET', [`${prefix}:a`, `${prefix}:b`], [`${prefix}:none`], true)).toEqual([value, Buffer.from('héllo'), null]);
    await expect(sendEncoded(redis, 'INCR', [`${prefix}:b`], [], false)).rejects.toBeInstanceOf(ReplyError);
  });

  it('sends a call made before the connection is ready once it is (the offline queue)', async () => {
    const redis = client();
    expect(redis.status).not.toBe('ready');
    const answers = [sendEncoded(redis, 'SET', [`${prefix}:c`], [42], false), sendEncoded(redis, 'GET', [`${prefix}:c`], [], false)];
    expect(await Promise.all(answers)).toEqual(['OK', '42']);
  });
});
