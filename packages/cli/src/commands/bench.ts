import { Command } from 'commander';

/** What the CLI uses of @outbound/bench (tools/bench), which it cannot name as a type: the bench builds on the CLI. */
interface BenchPackage {
  register(program: Command): void;
}

/** A variable, so tsc neither resolves the name at build time (the bench builds after the CLI) nor types the import. */
const BENCH_PACKAGE = '@outbound/bench';

/** @outbound/bench, or undefined where it is not installed (the CLI image); any other load error propagates. */
async function loadBench(): Promise<BenchPackage | undefined> {
  try {
    return (await import(BENCH_PACKAGE)) as BenchPackage;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${BENCH_PACKAGE}'`);
    if (missing) return undefined;
    throw error;
  }
}

/**
 * `outbound bench [--quick]`: the benchmark harness (bench/README.md), which ships with the
 * repository, not with the CLI. Loaded only when the command runs, so no other command pays
 * for it and the CLI image needs neither the bench nor BullMQ; the bench parses its own flags
 * (`outbound bench --help` lists them). Without it the command exits 2 and says where it lives.
 */
export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark: end to end per backend, raw TCP limit, queue core vs BullMQ, connection scale (bench/README.md)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_flags: unknown, command: Command) => {
      const bench = await loadBench();
      if (!bench) {
        console.error('outbound bench: the benchmark ships with the repository: run `npm run bench` from a checkout');
        process.exit(2);
      }
      const own = new Command(program.name()).showHelpAfterError();
      bench.register(own);
      await own.parseAsync(['bench', ...command.args], { from: 'user' });
    });
}
