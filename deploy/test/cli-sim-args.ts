import { Command } from 'commander';
import { register } from '../../packages/cli/src/commands/sim';

/** What `outbound sim` would run with, parsed by the CLI's own commander definition. */
export interface ParsedSim {
  host: string;
  port: number;
  devices: number;
  secret?: string;
}

/**
 * Parses `sim ...` arguments exactly as the `outbound` binary does (option names, argument
 * parsers, environment fallbacks such as DEVICE_AUTH_SECRET), without starting devices: the
 * action is replaced by one that records the options. Unknown options throw.
 */
export async function parseSimArgs(args: string[], env: Record<string, string>): Promise<ParsedSim> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  register(program);
  const sim = program.commands.find((c) => c.name() === 'sim')!;
  sim.exitOverride();
  let parsed: ParsedSim | undefined;
  sim.action(() => {
    parsed = sim.opts<ParsedSim>();
  });
  const saved = { ...process.env };
  try {
    for (const key of ['DEVICE_AUTH_SECRET', 'INGRESS_TCP_PORT']) delete process.env[key];
    Object.assign(process.env, env);
    await program.parseAsync(args, { from: 'user' });
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  if (!parsed) throw new Error(`sim did not parse: ${args.join(' ')}`);
  return parsed;
}
