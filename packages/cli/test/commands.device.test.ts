import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '@outbound/dispatcher';
import { run } from './support/cli';
import { startTestDispatcher, ADMIN_KEY, SEND_KEY } from '../../../services/dispatcher/test/support/harness';

describe('outbound device credentials|revoke|unrevoke against a real dispatcher', () => {
  let d: RunningDispatcher;
  let api: string[];
  let dir: string;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'cli-device');
    api = ['--url', d.url, '--key', ADMIN_KEY];
    dir = mkdtempSync(join(tmpdir(), 'outbound-cli-device-'));
  });
  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions a key from a file (raw, base64 or hex) and reverts it', async () => {
    const key = randomBytes(32);
    for (const [name, content] of [['raw', key], ['b64', `${key.toString('base64')}\n`], ['hex', key.toString('hex')]] as const) {
      const file = join(dir, `key.${name}`);
      writeFileSync(file, content);
      expect(await run(['device', 'credentials', 'set', 'CLI-DEV-1', '--key-file', file, ...api])).toBe('CLI-DEV-1: own key provisioned\n');
      expect((await d.credentials.get('CLI-DEV-1')).key).toEqual(key);
      await d.credentials.deleteKey('CLI-DEV-1');
    }
    await d.credentials.setKey('CLI-DEV-1', key);
    expect(await run(['device', 'credentials', 'delete', 'CLI-DEV-1', ...api])).toBe('CLI-DEV-1: derived key in force\n');
    expect((await d.credentials.get('CLI-DEV-1')).key).toBeNull();
  });

  it('generates a key into a new owner-only file and provisions exactly that key', async () => {
    const file = join(dir, 'generated.key');
    const out = await run(['device', 'credentials', 'set', 'CLI-DEV-2', '--generate', file, '--json', ...api]);
    expect(JSON.parse(out)).toEqual({ phyId: 'CLI-DEV-2', key: 'provisioned' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await d.credentials.get('CLI-DEV-2')).key).toEqual(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
    // Never overwrites a key file.
    await expect(run(['device', 'credentials', 'set', 'CLI-DEV-2', '--generate', file, ...api])).rejects.toThrow(/EEXIST/);
  });

  it('refuses a file that holds no 32-byte key before calling the API', async () => {
    const file = join(dir, 'short.key');
    writeFileSync(file, randomBytes(16).toString('base64'));
    await expect(run(['device', 'credentials', 'set', 'CLI-DEV-3', '--key-file', file, ...api])).rejects.toThrow(/expected a 32-byte device key/);
    expect(await d.credentials.get('CLI-DEV-3')).toEqual({ key: null, revoked: false });
  });

  it('revokes and restores a device, and needs an admin key', async () => {
    expect(await run(['device', 'revoke', 'CLI-DEV-4', ...api])).toBe('CLI-DEV-4: revoked\n');
    expect((await d.credentials.get('CLI-DEV-4')).revoked).toBe(true);
    expect(await run(['device', 'unrevoke', 'CLI-DEV-4', ...api])).toBe('CLI-DEV-4: not revoked\n');
    expect(await run(['device', 'unrevoke', 'CLI-DEV-4', ...api])).toBe('CLI-DEV-4: not revoked (it was not revoked)\n');
    await expect(run(['device', 'revoke', 'CLI-DEV-4', '--url', d.url, '--key', SEND_KEY])).rejects.toThrow(/FORBIDDEN|admin/);
    expect((await d.credentials.get('CLI-DEV-4')).revoked).toBe(false);
  });
});
