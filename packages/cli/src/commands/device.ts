import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { withApiOptions, withClient, type ApiFlags } from '../api-client';

const KEY_BYTES = 32;

/**
 * A device key from a file: 32 raw bytes, or their base64 or hex as text. Keys are read from
 * files, never taken as arguments, so they stay out of shell history and the process list.
 */
export function readDeviceKey(path: string): Buffer {
  const raw = readFileSync(path);
  if (raw.length === KEY_BYTES) return raw;
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const decoded = Buffer.from(text, 'base64');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && decoded.length === KEY_BYTES) return decoded;
  throw new Error(`${path}: expected a ${KEY_BYTES}-byte device key (raw, base64 or hex)`);
}

/** Writes a fresh random key as base64 to `path`, readable by its owner only; refuses to overwrite. */
function generateDeviceKey(path: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

const device = (phyId: string) => `/v1/devices/${encodeURIComponent(phyId)}`;

/** `outbound device credentials set|delete` and `outbound device revoke|unrevoke` (admin key). */
export function register(program: Command): void {
  const group = program.command('device').description("a device's handshake credentials and revocation (admin key)");
  const credentials = group.command('credentials').description("provision or remove a device's own key");

  withApiOptions(
    credentials.command('set').description("provision (or replace) the device's own 32-byte key")
      .argument('<phyId>', 'device id')
      .addOption(new Option('--key-file <path>', 'file holding the key: 32 raw bytes, or base64 or hex text').conflicts('generate'))
      .addOption(new Option('--generate <path>', 'make a random key, write it (base64) to this new file (mode 600), and provision it')),
  ).action(async (phyId: string, flags: ApiFlags & { keyFile?: string; generate?: string }) => {
    if (!flags.keyFile && !flags.generate) throw new Error('give --key-file <path> or --generate <path>');
    const key = flags.keyFile ? readDeviceKey(flags.keyFile) : generateDeviceKey(flags.generate!);
    await withClient(
      flags,
      async (client) => (await client.call<{ phyId: string; key: string }>('PUT', `${device(phyId)}/credentials`, { key: key.toString('base64') })).body,
      (r) => `${r.phyId}: own key provisioned${flags.generate ? ` (written to ${flags.generate})` : ''}`,
    );
  });

  withApiOptions(credentials.command('delete').description('revert the device to the key derived from the fleet secret').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(
        flags,
        async (client) => (await client.call<{ phyId: string; removed: boolean }>('DELETE', `${device(phyId)}/credentials`)).body,
        (r) => `${r.phyId}: derived key in force${r.removed ? '' : ' (it had no key of its own)'}`,
      );
    });

  withApiOptions(group.command('revoke').description('disconnect the device on every replica and refuse its handshakes').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(flags, async (client) => (await client.call<{ phyId: string }>('PUT', `${device(phyId)}/revocation`)).body, (r) => `${r.phyId}: revoked`);
    });

  withApiOptions(group.command('unrevoke').description('lift a revocation').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(
        flags,
        async (client) => (await client.call<{ phyId: string; lifted: boolean }>('DELETE', `${device(phyId)}/revocation`)).body,
        (r) => `${r.phyId}: not revoked${r.lifted ? '' : ' (it was not revoked)'}`,
      );
    });
}
