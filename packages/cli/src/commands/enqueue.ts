import { Command, InvalidArgumentError } from 'commander';
import { withApiOptions, withClient, type ApiFlags } from '../api-client';
import { formatCommand, type CommandView } from './format-command';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return value;
  };
}

/** 202 without --wait; the full command (plus `duplicate`) with it. */
type EnqueueAnswer = { id: string; status: string; duplicate: boolean } | (CommandView & { duplicate: boolean });

interface EnqueueFlags extends ApiFlags {
  encoding: 'utf8' | 'hex' | 'base64';
  priority?: number;
  ttlMs?: number;
  ackTimeoutMs?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  wait?: number;
}

/** `outbound enqueue <phyId> <payload>`: queue one command; `--wait` holds until it is terminal. */
export function register(program: Command): void {
  withApiOptions(
    program
      .command('enqueue')
      .description('queue a command for a device')
      .argument('<phyId>', 'device id')
      .argument('<payload>', 'command bytes (see --encoding)')
      .option('--encoding <encoding>', 'how <payload> is written: utf8, hex or base64', 'utf8')
      .option('-p, --priority <0-9>', 'priority, 9 highest (default 5)', integer(0, 9))
      .option('--ttl-ms <ms>', 'give up after this long (default 1 h)', integer(1))
      .option('--ack-timeout-ms <ms>', 'wait this long for the device ACK (default 10 s)', integer(100))
      .option('--max-attempts <n>', 'attempts before dead-lettering (default 5)', integer(1))
      .option('--idempotency-key <key>', 'a repeat with this key answers the first command')
      .option('--wait <ms>', 'wait up to this long for a terminal state', integer(0, 60_000)),
  ).action(async (phyId: string, payloadText: string, flags: EnqueueFlags) => {
    if (!['utf8', 'hex', 'base64'].includes(flags.encoding)) throw new Error('--encoding must be utf8, hex or base64');
    const body = {
      phyId,
      payload: Buffer.from(payloadText, flags.encoding).toString('base64'),
      ...(flags.priority === undefined ? {} : { priority: flags.priority }),
      ...(flags.ttlMs === undefined ? {} : { ttlMs: flags.ttlMs }),
      ...(flags.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: flags.ackTimeoutMs }),
      ...(flags.maxAttempts === undefined ? {} : { maxAttempts: flags.maxAttempts }),
      ...(flags.idempotencyKey === undefined ? {} : { idempotencyKey: flags.idempotencyKey }),
    };
    const query = flags.wait ? `?waitMs=${flags.wait}` : '';
    await withClient(
      flags,
      async (client) => (await client.call<EnqueueAnswer>('POST', `/v1/commands${query}`, body, flags.wait ?? 0)).body,
      (answer) => ('createdAt' in answer ? formatCommand(answer) : `${answer.id} ${answer.status}${answer.duplicate ? ' (duplicate)' : ''}`),
    );
  });
}
