import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testRedisUrl } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';
import { EXIT_CODES } from '../src/api-flags';
import { cli, run } from './support/cli';

describe('outbound against a running stack: exit codes, cancel, device, usage errors', () => {
  let stack: Stack;
  let send: string[];
  let admin: string[];
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'cli-client' });
    send = ['--url', stack.api.url, '--key', SEND_KEY];
    admin = ['--url', stack.api.url, '--key', ADMIN_KEY];
  });
  afterAll(() => stack.stop());

  it('exits 0 when the command is acked, 3 when rejected, 4 when dead, 5 when the wait runs out', async () => {
    await stack.device('CLI-ACK');
    const acked = await cli(['enqueue', 'CLI-ACK', 'hello', '--wait', '10000', ...send]);
    expect(acked).toMatchObject({ code: EXIT_CODES.ok, stderr: '' });
    expect(acked.stdout).toMatch(/status\s+acked/);

    await stack.device('CLI-REJECT', { rejectRate: 1 });
    const rejected = await cli(['enqueue', 'CLI-REJECT', 'hello', '--wait', '10000', '--json', ...send]);
    expect(rejected.code).toBe(EXIT_CODES.rejected);
    expect(JSON.parse(rejected.stdout)).toMatchObject({ status: 'rejected' });

    await stack.device('CLI-BUSY', { busyRate: 1 });
    const dead = await cli(['enqueue', 'CLI-BUSY', 'hello', '--max-attempts', '1', '--wait', '10000', ...send]);
    expect(dead.code).toBe(EXIT_CODES.notDelivered);
    expect(dead.stdout).toMatch(/status\s+dead/);

    const pending = await cli(['enqueue', 'CLI-OFFLINE', 'hello', '--wait', '200', '--json', ...send]);
    expect(pending.code).toBe(EXIT_CODES.pending);
    const view = JSON.parse(pending.stdout) as { id: string; status: string };
    expect(['queued', 'inflight']).toContain(view.status);
    // status --wait gives the same codes.
    expect((await cli(['status', view.id, '--wait', '100', ...send])).code).toBe(EXIT_CODES.pending);
    expect((await cli(['status', view.id, ...send])).code).toBe(EXIT_CODES.ok);
  });

  it('refuses a payload that is not in its encoding as a usage error, and enqueues nothing', async () => {
    for (const args of [['zz', '--encoding', 'hex'], ['abc', '--encoding', 'hex'], ['aGk', '--encoding', 'base64'], ['x', '--encoding', 'latin1']]) {
      const result = await cli(['enqueue', 'CLI-BADPAYLOAD', ...args, ...send]);
      expect({ args, code: result.code }).toEqual({ args, code: EXIT_CODES.usage });
    }
    expect(await stack.api.queue.countDevice('CLI-BADPAYLOAD')).toBe(0);
    const hex = JSON.parse(await run(['enqueue', 'CLI-BADPAYLOAD', 'CAFE', '--encoding', 'hex', '--json', ...send]));
    expect((await stack.api.queue.get(hex.id))?.payload).toEqual(Buffer.from([0xca, 0xfe]));
  });

  it('prints errors on stdout as JSON with --json: API refusals exit 1, usage errors 2', async () => {
    const missing = await cli(['status', '00000000-0000-4000-8000-000000000000', '--json', ...send]);
    expect(missing.code).toBe(EXIT_CODES.failed);
    expect(JSON.parse(missing.stdout)).toEqual({ error: expect.objectContaining({ status: 404, code: 'COMMAND_NOT_FOUND' }) });

    const invalid = await cli(['enqueue', 'bad id!', 'x', '--json', ...send]);
    expect(invalid.code).toBe(EXIT_CODES.failed);
    expect(JSON.parse(invalid.stdout).error).toMatchObject({ code: 'VALIDATION_FAILED', fields: [expect.objectContaining({ path: 'phyId' })] });

    const usage = await cli(['enqueue', 'CLI-X', '--json', ...send]);
    expect(usage).toMatchObject({ code: EXIT_CODES.usage, stderr: '' });
    expect(JSON.parse(usage.stdout).error).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/payload/) });
    expect((await cli(['enqueue', 'CLI-X', 'x', '--priority', '12', ...send])).code).toBe(EXIT_CODES.usage);
    expect((await cli(['nonsense'])).code).toBe(EXIT_CODES.usage);
  });

  it('cancels a queued command', async () => {
    const { id } = await stack.api.queue.enqueue({ phyId: 'CLI-CANCEL', payload: Buffer.from('x'), priority: 5, ttlMs: 600_000, ackTimeoutMs: 10_000, maxAttempts: 5, deliverAt: Date.now() + 300_000 });
    expect(await run(['cancel', id, ...send])).toMatch(/status\s+cancelled/);
    expect((await stack.api.queue.get(id))?.status).toBe('cancelled');
    const again = await cli(['cancel', id, '--json', ...send]);
    expect(again.code).toBe(EXIT_CODES.ok);
  });

  it('shows a device, and keeps its credential subcommands', async () => {
    await stack.device('CLI-SHOW');
    const text = await run(['device', 'CLI-SHOW', ...admin]);
    expect(text).toMatch(/online\s+yes, on replica-0/);
    expect(JSON.parse(await run(['device', 'CLI-SHOW', '--json', ...admin]))).toMatchObject({ phyId: 'CLI-SHOW', online: true, pending: 0 });
    expect(await run(['device', 'revoke', 'CLI-SHOW', ...admin])).toBe('CLI-SHOW: revoked\n');
    expect((await cli(['device', ...admin])).code).toBe(EXIT_CODES.usage);
  });

  it('prints its version', async () => {
    const result = await cli(['--version']);
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});
