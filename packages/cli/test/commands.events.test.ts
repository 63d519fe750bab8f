import { testRedisUrl, waitFor } from '@outbound/test-support';
import { SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';
import { EXIT_CODES } from '../src/api-flags';
import { cli, run } from './support/cli';

describe('outbound events against a running stack', () => {
  let stack: Stack;
  let send: string[];
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'cli-events' });
    send = ['--url', stack.api.url, '--key', SEND_KEY];
  });
  afterAll(() => stack.stop());

  it('prints the retained events of a device and exits once the stream is quiet', async () => {
    await stack.device('CLI-EVENTS');
    const { id } = JSON.parse(await run(['enqueue', 'CLI-EVENTS', 'x', '--wait', '10000', '--json', ...send]));
    const lines = (await run(['events', '--phy-id', 'CLI-EVENTS', '--types', 'command.queued,command.acked', '--idle-ms', '500', '--json', ...send])).trim().split('\n');
    const events = lines.map((line) => JSON.parse(line) as { type: string; commandId: string; cursor: string });
    expect(events.map((e) => [e.type, e.commandId])).toEqual([['command.queued', id], ['command.acked', id]]);
    // Resuming after the first event's cursor prints only the second.
    const after = await run(['events', '--phy-id', 'CLI-EVENTS', '--types', 'command.queued,command.acked', '--after', events[0]!.cursor, '--count', '1', '--json', ...send]);
    expect(JSON.parse(after)).toMatchObject({ type: 'command.acked', commandId: id });
    expect((await cli(['events', '--types', 'command.nope', ...send])).code).toBe(EXIT_CODES.usage);
  });

  it('follows from now on: prints the events that come after it started, not those before', async () => {
    await stack.device('CLI-FOLLOW');
    const before = await stack.enqueue({ phyId: 'CLI-FOLLOW', payload: Buffer.from('before').toString('base64') });
    await stack.waitStatus(before, 'acked');
    const openStreams = async () => (await stack.api.metrics.eventStreams.get()).values[0]?.value ?? 0;
    // The earlier streams have ended on the server: the one open next is this one.
    await waitFor(async () => (await openStreams()) === 0, { what: 'earlier streams to end' });
    const following = cli(['events', '--follow', '--phy-id', 'CLI-FOLLOW', '--count', '3', '--json', ...send]);
    await waitFor(async () => (await openStreams()) === 1, { what: 'the follow stream to be open' });
    const id = await stack.enqueue({ phyId: 'CLI-FOLLOW', payload: Buffer.from('after').toString('base64') });
    const result = await following;
    expect(result.code).toBe(EXIT_CODES.ok);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; commandId: string });
    expect(events.map((e) => [e.type, e.commandId])).toEqual([['command.queued', id], ['command.delivered', id], ['command.acked', id]]);
  });
});
