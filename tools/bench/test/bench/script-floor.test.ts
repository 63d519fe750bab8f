import { createRedisClient, type RedisClient } from '@outbound/core';
import { startRedisServer, type RedisServerHandle } from '@outbound/test-support';
import { CallGrouper, commandsByScript, floorLibrary, luaString, parseMonitorLine, ScriptCapture, scriptKind } from '../../src/bench/script-floor';

/** The floor section's capture and replay (queue-layouts.ts BENCH_SECTIONS=floor), against a private redis-server (MONITOR sees every client). */
describe('script floor', () => {
  let server: RedisServerHandle;
  let client: RedisClient;

  beforeAll(async () => {
    server = await startRedisServer();
    client = createRedisClient({ url: server.url });
  });

  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  it('reads MONITOR lines with every escape Redis writes, and nothing else', () => {
    expect(parseMonitorLine('1796301938.872855 [0 lua] "SET" "a" "x\\"y\\n\\x01\\\\" ""')).toEqual({
      source: 'lua',
      args: [Buffer.from('SET'), Buffer.from('a'), Buffer.from([0x78, 0x22, 0x79, 0x0a, 0x01, 0x5c]), Buffer.alloc(0)],
    });
    expect(parseMonitorLine('1796301938.882992 [0 127.0.0.1:41732] "fcall" "f" "1" "k\\r\\t\\a\\b"')?.args.map((a) => [...a])).toEqual([
      [...Buffer.from('fcall')], [...Buffer.from('f')], [...Buffer.from('1')], [0x6b, 13, 9, 7, 8],
    ]);
    expect(parseMonitorLine('OK')).toBeNull();
    expect(parseMonitorLine('1796301938.872855 [0 lua] "SET" "unterminated')).toBeNull();
  });

  it('groups a script\'s commands under the call that ran them and drops other clients\' commands', () => {
    const grouper = new CallGrouper();
    const line = (source: string, ...args: string[]) => grouper.add({ source, args: args.map((a) => Buffer.from(a)) });
    line('127.0.0.1:1', 'FCALL', 'outbound_l3v17_enqueue', '1', 'p');
    line('lua', 'SET', 'a', '1');
    line('lua', 'XADD', 'ev', '*', 't', '1');
    line('127.0.0.1:2', 'INFO', 'cpu');
    line('lua', 'SET', 'stray', '1'); // no call open: not kept
    line('127.0.0.1:1', 'EVALSHA', 'abc', '0');
    line('lua', 'GET', 'a');
    expect(grouper.calls.map((c) => [c.script, c.commands.map((cmd) => cmd.map(String).join(' '))])).toEqual([
      ['outbound_l3v17_enqueue', ['SET a 1', 'XADD ev * t 1']],
      ['abc', ['GET a']],
    ]);
    expect(scriptKind('outbound_l3v17_enqueue')).toBe('enqueue');
    expect(commandsByScript(grouper.calls, 2)).toEqual([
      { script: 'abc', command: 'GET', perCommand: 0.5 },
      { script: 'enqueue', command: 'SET', perCommand: 0.5 },
      { script: 'enqueue', command: 'XADD', perCommand: 0.5 },
    ]);
  });

  it('captures what a function ran and replays it byte for byte, without the commands a filter drops', async () => {
    const value = Buffer.from([0, 1, 2, 34, 92, 10, 13, 200, 255, 0x41]);
    await client.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=floortest\nredis.register_function('floortest_put', function(keys, argv) redis.call('SET', keys[1], argv[1]); redis.call('XADD', keys[1] .. ':ev', '*', 'v', argv[1]); return 1 end)");
    const capture = await ScriptCapture.start(server.port);
    await client.call('FCALL', 'floortest_put', '1', 'floor:k', value);
    await client.set('floor:plain', 'x'); // not a script's: not captured
    const calls = await capture.stop(client);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.script).toBe('floortest_put');
    expect(calls[0]!.commands.map((c) => c[0]!.toString())).toEqual(['SET', 'XADD']);

    await client.flushall();
    const noEvents = floorLibrary(calls, (command) => command[0]!.toString() !== 'XADD');
    await client.call('FUNCTION', 'LOAD', 'REPLACE', noEvents.code);
    await client.call('FCALL', noEvents.functions[0]!, '0');
    expect(await client.getBuffer('floor:k')).toEqual(value);
    expect(await client.exists('floor:k:ev')).toBe(0);

    const all = floorLibrary(calls);
    await client.call('FUNCTION', 'LOAD', 'REPLACE', all.code);
    await client.call('FCALL', all.functions[0]!, '0');
    expect(await client.xlen('floor:k:ev')).toBe(1);
    expect(floorLibrary([{ script: 'x', commands: [[Buffer.from('XADD')]] }], () => false).functions).toEqual([null]);
  });

  it('writes Lua string literals Lua reads back as the same bytes, a long command through unpack', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect(luaString(Buffer.from('a"b\\c1'))).toBe('"a\\034b\\092c1"');
    const args = [Buffer.from('RPUSH'), Buffer.from('floor:list'), ...Array.from({ length: 250 }, () => bytes)];
    const { code, functions } = floorLibrary([{ script: 's', commands: [args] }]);
    expect(code).toContain('unpack({');
    await client.call('FUNCTION', 'LOAD', 'REPLACE', code);
    await client.call('FCALL', functions[0]!, '0');
    expect(await client.llen('floor:list')).toBe(250);
    expect(await client.lindexBuffer('floor:list', 249)).toEqual(bytes);
  });
});
