import Redis from 'ioredis';
import { testRedisUrl } from '@outbound/test-support';
import { familyInclude, type ScriptFamily } from '../../src/queue/redis/scripts';
import { pruneInclude } from '../../src/queue/redis-v3/lua-prune';
import { LUA_DIR_V3 } from '../../src/queue/redis-v3/scripts-v3';

/**
 * The v3 scripts read an event entry's id ("<ms>-<seq>", as XADD answers it) into the 10 bytes a
 * record keeps (I6 ms, I4 seq): the usual shape digit by digit, any other through the general
 * path. Both must give the same numbers, whatever the length of either part.
 */
describe('v3 event entry ids as records keep them', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await client.quit();
  });

  const body = `begin(KEYS)
local out = {}
for i = 1, #ARGV do
  local ms, seq = eventIdParts(ARGV[i])
  out[i] = { string.format('%d', ms), string.format('%d', seq), packEventId(ARGV[i]) }
end
return out`;
  const include = familyInclude({ dir: LUA_DIR_V3 } as ScriptFamily<never>, 'v3');
  const script = `${pruneInclude(include, body)}\n${body}`;

  it.each([
    ['13-digit ms, 1-digit seq', '1796293138859-0'],
    ['13-digit ms, 2-digit seq', '1796293138859-42'],
    ['13-digit ms, 3-digit seq', '1796293138859-271'],
    ['13-digit ms, 4-digit seq', '1796293138859-9999'],
    ['13-digit ms, 5-digit seq (general path)', '1796293138859-12345'],
    ['13-digit ms, largest seq (general path)', '1796293138859-4294967295'],
    ['12-digit ms (general path)', '999999999999-3'],
    ['14-digit ms (general path)', '12345678901234-5'],
    ['zero (general path)', '0-1'],
  ])('%s: %s', async (_, sid) => {
    const [[ms, seq, packed]] = (await client.callBuffer('EVAL', script, 1, 'test:event-id:', sid)) as Array<[Buffer, Buffer, Buffer]>;
    const [wantMs, wantSeq] = sid.split('-').map(Number) as [number, number];
    expect([Number(String(ms)), Number(String(seq))]).toEqual([wantMs, wantSeq]);
    const want = Buffer.alloc(10);
    want.writeUIntBE(wantMs, 0, 6);
    want.writeUInt32BE(wantSeq, 6);
    expect(packed.toString('hex')).toBe(want.toString('hex'));
  });
});
