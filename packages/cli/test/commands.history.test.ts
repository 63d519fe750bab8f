import { testRedisUrl } from '@outbound/test-support';
import { SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';
import { EXIT_CODES } from '../src/api-flags';
import { cli, run } from './support/cli';

describe('outbound list against a running stack', () => {
  let stack: Stack;
  let send: string[];
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'cli-history' });
    send = ['--url', stack.api.url, '--key', SEND_KEY];
  });
  afterAll(() => stack.stop());

  it('lists commands newest first, filtered and limited', async () => {
    await stack.device('CLI-HIST');
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(JSON.parse(await run(['enqueue', 'CLI-HIST', `c${i}`, '--wait', '10000', '--json', ...send])).id);
    const all = JSON.parse(await run(['list', '--phy-id', 'CLI-HIST', '--json', ...send])) as { items: Array<{ id: string; status: string }> };
    expect(all.items.map((c) => c.id)).toEqual([...ids].reverse());
    const two = await run(['list', '--phy-id', 'CLI-HIST', '--status', 'acked', '--limit', '2', ...send]);
    expect(two.trim().split('\n')).toHaveLength(2);
    expect(two).toContain(ids[2]);
    expect((await cli(['list', '--status', 'done', ...send])).code).toBe(EXIT_CODES.usage);
  });
});
