#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { OutboundApiError } from '@outbound/client';
import { EXIT_CODES, EXIT_CODES_HELP, ExitWith, UsageError } from './api-flags';
import { register as registerSim } from './commands/sim';
import { register as registerEnqueue } from './commands/enqueue';
import { register as registerStatus } from './commands/status';
import { register as registerCancel } from './commands/cancel';
import { register as registerList } from './commands/list';
import { register as registerEvents } from './commands/events';
import { register as registerStats } from './commands/stats';
import { register as registerDeadLetters } from './commands/dead-letters';
import { register as registerDevice } from './commands/device';
import { register as registerBench } from './commands/bench';
import { register as registerMigrate } from './commands/migrate';
import { register as registerMigrateQueue } from './commands/migrate-queue';

/**
 * Every subcommand lives in commands/<name>.ts and exports `register(program)`. To add one,
 * write that module and add one line to this list.
 */
const REGISTRATIONS: Array<(program: Command) => void> = [
  registerSim,
  registerEnqueue,
  registerStatus,
  registerCancel,
  registerList,
  registerEvents,
  registerStats,
  registerDeadLetters,
  registerDevice,
  registerMigrate,
  registerMigrateQueue,
  registerBench,
];

/** The package's version (package.json sits one level above both src/ and dist/). */
function version(): string {
  return (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The `outbound` program with every subcommand registered. Parse errors throw CommanderError
 * instead of exiting (runCli turns them into exit code 2); `quiet` keeps commander from writing
 * them to stderr (--json prints them on stdout instead).
 */
export function buildProgram(options: { quiet?: boolean } = {}): Command {
  const program = new Command('outbound')
    .description('Outbound: reliable command delivery to TCP-connected devices')
    .version(version(), '-V, --version')
    .showHelpAfterError()
    .addHelpText('after', EXIT_CODES_HELP)
    // A subcommand's options are its own even where its parent has the same (`device --key` vs `device revoke --key`).
    .enablePositionalOptions()
    .exitOverride();
  if (options.quiet) program.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const register of REGISTRATIONS) register(program);
  return program;
}

/** What an error prints: on stdout as JSON with --json, else on stderr as text. */
function report(error: unknown, json: boolean): void {
  if (json) {
    const body = error instanceof OutboundApiError ? error.toJSON()
      : { code: error instanceof UsageError || error instanceof CommanderError ? 'USAGE' : 'FAILED', message: error instanceof Error ? error.message : String(error) };
    process.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
    return;
  }
  if (error instanceof OutboundApiError) {
    const fields = error.fields.map((f) => `\n  ${f.path}: ${f.message}`).join('');
    process.stderr.write(`${error.code}: ${error.message}${fields}\n`);
    return;
  }
  if (error instanceof CommanderError) return; // commander has said it
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
}

/** Runs `outbound <args>` and answers its exit code (see EXIT_CODES). */
export async function runCli(args: readonly string[]): Promise<number> {
  const json = args.includes('--json');
  try {
    await buildProgram({ quiet: json }).parseAsync([...args], { from: 'user' });
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof ExitWith) return error.code;
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT_CODES.ok; // --help, --version
    report(error, json);
    return error instanceof UsageError || error instanceof CommanderError ? EXIT_CODES.usage : EXIT_CODES.failed;
  }
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
