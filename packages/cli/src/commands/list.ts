import { Option, type Command } from 'commander';
import { COMMAND_STATUSES, type Command as ApiCommand, type CommandStatus } from '@outbound/client';
import { print, clientFor, withApiOptions, type ApiFlags } from '../api-flags';
import { integer } from './enqueue';
import { commandLine } from './format-command';

interface ListFlags extends ApiFlags {
  phyId?: string;
  status?: CommandStatus;
  since?: string;
  until?: string;
  limit: number;
}

/** `outbound list`: the command history, newest first. */
export function register(program: Command): void {
  withApiOptions(
    program.command('list').description('command history, newest first (queued, in flight and finished within retention)')
      .option('--phy-id <phyId>', 'only this device')
      .addOption(new Option('--status <status>', 'only commands in this state').choices(COMMAND_STATUSES))
      .option('--since <time>', 'created at or after (ISO-8601 or epoch ms)')
      .option('--until <time>', 'created before (ISO-8601 or epoch ms)')
      .option('--limit <n>', 'at most this many', integer(1, 100_000), 50),
  ).action(async (flags: ListFlags) => {
    const client = clientFor(flags);
    const items: ApiCommand[] = [];
    const pages = client.list({ phyId: flags.phyId, status: flags.status, since: flags.since, until: flags.until, pageSize: Math.min(flags.limit, 1000) });
    for await (const command of pages) {
      items.push(command);
      if (items.length >= flags.limit) break;
    }
    print(flags, { items }, (r) => (r.items.length ? r.items.map(commandLine).join('\n') : 'no commands'));
  });
}
