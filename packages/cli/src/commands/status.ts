import type { Command } from 'commander';
import { ExitWith, exitCodeOf, withApiOptions, withClient, type ApiFlags } from '../api-flags';
import { integer } from './enqueue';
import { formatCommand } from './format-command';

/** `outbound status <id> [--wait ms]`: a command's state, attempts, last error and result. */
export function register(program: Command): void {
  withApiOptions(
    program
      .command('status')
      .description("show a command's status (and the device's result); with --wait, the exit code says how it ended")
      .argument('<id>', 'command id')
      .option('--wait <ms>', 'wait up to this long for a terminal state', integer(0, 60_000)),
  ).action(async (id: string, flags: ApiFlags & { wait?: number }) => {
    const command = await withClient(flags, (client) => client.get(id, { waitMs: flags.wait }), formatCommand);
    const code = exitCodeOf(command.status);
    if (flags.wait !== undefined && code !== 0) throw new ExitWith(code);
  });
}
