import { InvalidArgumentError, Option, type Command } from 'commander';
import { ExitWith, exitCodeOf, UsageError, withApiOptions, withClient, type ApiFlags } from '../api-flags';
import { formatCommand } from './format-command';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return value;
  };
}

export const PAYLOAD_ENCODINGS = ['utf8', 'hex', 'base64'] as const;
export type PayloadEncoding = (typeof PAYLOAD_ENCODINGS)[number];

/**
 * The payload bytes written in `encoding`. Hex must be pairs of hex digits and base64 canonical
 * and padded: Buffer.from would silently drop what does not decode and queue fewer bytes.
 */
export function decodePayload(text: string, encoding: PayloadEncoding): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (encoding === 'hex') {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) throw new UsageError('<payload> is not hex: give pairs of hex digits (0-9, a-f), or another --encoding');
    return Buffer.from(text, 'hex');
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw new UsageError('<payload> is not base64 (standard alphabet, padded): fix it, or give another --encoding');
  return bytes;
}

interface EnqueueFlags extends ApiFlags {
  encoding: PayloadEncoding;
  priority?: number;
  ttlMs?: number;
  ackTimeoutMs?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  wait?: number;
}

/** `outbound enqueue <phyId> <payload>`: queue one command; `--wait` holds until it is terminal (the exit code says how it ended). */
export function register(program: Command): void {
  withApiOptions(
    program
      .command('enqueue')
      .description('queue a command for a device (with --wait, the exit code says how it ended)')
      .argument('<phyId>', 'device id')
      .argument('<payload>', 'command bytes (see --encoding)')
      .addOption(new Option('--encoding <encoding>', 'how <payload> is written').choices(PAYLOAD_ENCODINGS).default('utf8'))
      .option('-p, --priority <0-9>', 'priority, 9 highest (default 5)', integer(0, 9))
      .option('--ttl-ms <ms>', 'give up after this long (default 1 h)', integer(1))
      .option('--ack-timeout-ms <ms>', 'wait this long for the device ACK (default 10 s)', integer(100))
      .option('--max-attempts <n>', 'attempts before dead-lettering (default 5)', integer(1))
      .option('--idempotency-key <key>', 'a repeat with this key answers the first command')
      .option('--wait <ms>', 'wait up to this long for a terminal state', integer(0)),
  ).action(async (phyId: string, payloadText: string, flags: EnqueueFlags) => {
    const command = {
      phyId,
      payload: decodePayload(payloadText, flags.encoding),
      ...(flags.priority === undefined ? {} : { priority: flags.priority }),
      ...(flags.ttlMs === undefined ? {} : { ttlMs: flags.ttlMs }),
      ...(flags.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: flags.ackTimeoutMs }),
      ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
    };
    const options = flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey };
    if (flags.wait === undefined) {
      await withClient(flags, (client) => client.send(command, options), (a) => `${a.id} ${a.status}${a.duplicate ? ' (duplicate)' : ''}`);
      return;
    }
    const timeoutMs = flags.wait;
    const done = await withClient(flags, (client) => client.sendAndWait(command, { ...options, timeoutMs }), formatCommand);
    const code = exitCodeOf(done.status);
    if (code !== 0) throw new ExitWith(code);
  });
}
