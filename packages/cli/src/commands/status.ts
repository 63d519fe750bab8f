import type { Command } from 'commander';
import { withApiOptions, withClient, type ApiFlags } from '../api-client';
import { integer } from './enqueue';
import { formatCommand, type CommandView } from './format-command';

/** `outbound status <id> [--wait ms]`: a command's state, attempts, last error and result. */
export function register(program: Command): void {
  withApiOptions(
    program
      .command('status')
      .description("show a command's status (and the device's result)")
      .argument('<id>', 'command id')
      .option('--wait <ms>', 'wait up to this long for a terminal state', integer(0, 60_000)),
  ).action(async (id: string, flags: ApiFlags & { wait?: number }) => {
    const query = flags.wait ? `?waitMs=${flags.wait}` : '';
    await withClient(flags, async (client) => (await client.call<CommandView>('GET', `/v1/commands/${encodeURIComponent(id)}${query}`, undefined, flags.wait ?? 0)).body, formatCommand);
  });
}
