import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Device } from '@outbound/client';
import { UsageError, withApiOptions, withClient, type ApiFlags } from '../api-flags';

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
  throw new UsageError(`${path}: expected a ${KEY_BYTES}-byte device key (raw, base64 or hex)`);
}

/** Writes a fresh random key as base64 to `path`, readable by its owner only; refuses to overwrite. */
function generateDeviceKey(path: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

function formatDevice(d: Device): string {
  const rows: Array<[string, string]> = [
    ['device', d.phyId],
    ['online', d.online ? `yes, on ${d.replicaId} since ${d.connectedSince} (epoch ${d.epoch})` : 'no'],
    ['pending', String(d.pending)],
    ['key', d.credentials.key],
    ['revoked', d.credentials.revoked ? 'yes' : 'no'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(9)}${v}`).join('\n');
}

/** `outbound device <phyId>`, `outbound device credentials set|delete` and `outbound device revoke|unrevoke` (admin key). */
export function register(program: Command): void {
  const group = withApiOptions(
    program.command('device')
      .description("a device: is it online, on which replica, how many commands pending; its handshake credentials and revocation (admin key)")
      .argument('[phyId]', 'device id')
      // Its own --url/--key/--json come before a subcommand's name; after it, they are the subcommand's.
      .enablePositionalOptions(),
  ).action(async (phyId: string | undefined, flags: ApiFlags) => {
    if (!phyId) throw new UsageError('give a device id, or a subcommand (see outbound device --help)');
    await withClient(flags, (client) => client.device(phyId), formatDevice);
  });
  const credentials = group.command('credentials').description("provision or remove a device's own key");

  withApiOptions(
    credentials.command('set').description("provision (or replace) the device's own 32-byte key")
      .argument('<phyId>', 'device id')
      .addOption(new Option('--key-file <path>', 'file holding the key: 32 raw bytes, or base64 or hex text').conflicts('generate'))
      .addOption(new Option('--generate <path>', 'make a random key, write it (base64) to this new file (mode 600), and provision it')),
  ).action(async (phyId: string, flags: ApiFlags & { keyFile?: string; generate?: string }) => {
    if (!flags.keyFile && !flags.generate) throw new UsageError('give --key-file <path> or --generate <path>');
    const key = flags.keyFile ? readDeviceKey(flags.keyFile) : generateDeviceKey(flags.generate!);
    await withClient(
      flags,
      async (client) => {
        await client.setDeviceKey(phyId, key);
        return { phyId, key: 'provisioned' };
      },
      (r) => `${r.phyId}: own key provisioned${flags.generate ? ` (written to ${flags.generate})` : ''}`,
    );
  });

  withApiOptions(credentials.command('delete').description('revert the device to the key derived from the fleet secret').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(
        flags,
        async (client) => ({ phyId, key: 'derived', removed: await client.deleteDeviceKey(phyId) }),
        (r) => `${r.phyId}: derived key in force${r.removed ? '' : ' (it had no key of its own)'}`,
      );
    });

  withApiOptions(group.command('revoke').description('disconnect the device on every replica and refuse its handshakes').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(flags, async (client) => {
        await client.revokeDevice(phyId);
        return { phyId, revoked: true };
      }, (r) => `${r.phyId}: revoked`);
    });

  withApiOptions(group.command('unrevoke').description('lift a revocation').argument('<phyId>', 'device id'))
    .action(async (phyId: string, flags: ApiFlags) => {
      await withClient(
        flags,
        async (client) => ({ phyId, revoked: false, lifted: await client.unrevokeDevice(phyId) }),
        (r) => `${r.phyId}: not revoked${r.lifted ? '' : ' (it was not revoked)'}`,
      );
    });
}
