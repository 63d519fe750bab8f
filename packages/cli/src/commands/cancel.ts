import type { Command } from 'commander';
import { withApiOptions, withClient, type ApiFlags } from '../api-flags';
import { formatCommand } from './format-command';

/** `outbound cancel <id>`: cancel a command that is still queued. */
export function register(program: Command): void {
  withApiOptions(program.command('cancel').description('cancel a command that is still queued (INVALID_STATE once in flight or finished)').argument('<id>', 'command id'))
    .action(async (id: string, flags: ApiFlags) => {
      await withClient(flags, (client) => client.cancel(id), formatCommand);
    });
}
