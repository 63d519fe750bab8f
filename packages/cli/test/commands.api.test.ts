import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '@outbound/dispatcher';
import { EXIT_CODES } from '../src/api-flags';
import { cli, run } from './support/cli';
import { startTestDispatcher, SEND_KEY, ADMIN_KEY } from '../../../services/dispatcher/test/support/harness';

describe('outbound enqueue/status/stats/dead-letters against a real dispatcher', () => {
  let d: RunningDispatcher;
  let api: string[];
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'cli-commands');
    api = ['--url', d.url];
  });
  afterAll(() => d.stop());

  it('enqueues with --json and reads the command back with status', async () => {
    const created = JSON.parse(await run(['enqueue', 'DEV-CLI', 'hello', '--priority', '8', '--max-attempts', '2', '--json', ...api, '--key', SEND_KEY]));
    expect(created).toMatchObject({ status: 'queued', duplicate: false });
    const stored = await d.queue.get(created.id);
    expect(stored?.payload.toString()).toBe('hello');
    expect(stored?.priority).toBe(8);

    const text = await run(['status', created.id, ...api, '--key', SEND_KEY]);
    expect(text).toMatch(/status\s+queued/);
    expect(text).toMatch(/attempts\s+0\/2/);
  });

  it('waits with status --wait and reports a terminal state', async () => {
    const created = JSON.parse(await run(['enqueue', 'DEV-CLI2', 'cafe', '--encoding', 'hex', '--json', ...api, '--key', SEND_KEY]));
    setTimeout(() => void d.queue.cancel(created.id), 100);
    const result = await cli(['status', created.id, '--wait', '5000', '--json', ...api, '--key', SEND_KEY]);
    expect(result.code).toBe(EXIT_CODES.notDelivered);
    expect(JSON.parse(result.stdout).status).toBe('cancelled');
  });

  it('prints stats with an admin key and fails with the API error code with a send key', async () => {
    const stats = JSON.parse(await run(['stats', '--json', ...api, '--key', ADMIN_KEY]));
    expect(stats.total.pending).toBeGreaterThanOrEqual(1);
    expect(await run(['stats', ...api, '--key', ADMIN_KEY])).toMatch(/total\s+\d+/);
    await expect(run(['stats', ...api, '--key', SEND_KEY])).rejects.toThrow(/FORBIDDEN: /);
  });

  it('prints the problem answer of a refused command: its code, its detail and each field', async () => {
    const error = await run(['enqueue', 'DEV-CLI', 'hello', '--max-attempts', '1000', ...api, '--key', SEND_KEY]).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^exit 1: VALIDATION_FAILED: invalid request: maxAttempts/);
    expect((error as Error).message).toContain('\n  maxAttempts: must be at most');
  });

  it('lists, replays and purges dead letters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(JSON.parse(await run(['enqueue', `DEV-DL${i}`, 'x', '--max-attempts', '1', '--priority', '9', '--json', ...api, '--key', SEND_KEY])).id);
    const claimed = await d.queue.claim({ max: 1000, leaseMs: 10_000 });
    await d.queue.fail(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, error: 'BUSY', retryable: true })));

    const listed = JSON.parse(await run(['dead-letters', 'list', '--json', ...api, '--key', ADMIN_KEY]));
    expect(listed.items.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(ids));

    expect(await run(['dead-letters', 'replay', ids[0]!, ...api, '--key', ADMIN_KEY])).toBe('replayed 1\n');
    expect((await d.queue.get(ids[0]!))?.status).toBe('queued');
    expect(await run(['dead-letters', 'purge', ids[1]!, ...api, '--key', ADMIN_KEY])).toBe('deleted 1\n');
    const purged = JSON.parse(await run(['dead-letters', 'purge', '--all', '--json', ...api, '--key', ADMIN_KEY]));
    expect(purged.deleted).toBeGreaterThanOrEqual(1);
    expect(await run(['dead-letters', 'list', ...api, '--key', ADMIN_KEY])).toBe('no dead letters\n');
    await expect(run(['dead-letters', 'replay', ...api, '--key', ADMIN_KEY])).rejects.toThrow(/at least one id/);
  });

  it('says what is wrong when the API is unreachable or the key missing', async () => {
    await expect(run(['stats', '--url', 'http://127.0.0.1:1', '--key', ADMIN_KEY])).rejects.toThrow(/UNREACHABLE/);
    const saved = process.env.OUTBOUND_API_KEY;
    delete process.env.OUTBOUND_API_KEY;
    await expect(run(['stats', ...api])).rejects.toThrow(/API key is required/);
    if (saved !== undefined) process.env.OUTBOUND_API_KEY = saved;
  });
});
