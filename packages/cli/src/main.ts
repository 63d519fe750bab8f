#!/usr/bin/env node
import { Command } from 'commander';
import { register as registerSim } from './commands/sim';
import { register as registerEnqueue } from './commands/enqueue';
import { register as registerStatus } from './commands/status';
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
  registerStats,
  registerDeadLetters,
  registerDevice,
  registerMigrate,
  registerMigrateQueue,
  registerBench,
];

/** The `outbound` program with every subcommand registered (tests parse with it directly). */
export function buildProgram(): Command {
  const program = new Command('outbound')
    .description('Outbound: reliable command delivery to TCP-connected devices')
    .showHelpAfterError();
  for (const register of REGISTRATIONS) register(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    });
}
