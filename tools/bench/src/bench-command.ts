import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_REDIS_LAYOUT, REDIS_LAYOUTS, type RedisLayout } from '@outbound/core';
import { REPO_ROOT } from './bench/child-processes';
import { BENCH_SECTIONS, runBench, type BenchSection } from './bench/run-bench';
import type { Backend } from './bench/service-processes';

function list<T extends string>(allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((i) => !allowed.includes(i as T));
    if (items.length === 0 || bad.length > 0) throw new InvalidArgumentError(`must be a comma-separated subset of ${allowed.join(',')}`);
    return items as T[];
  };
}

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError('must be a positive integer');
  return value;
}

interface BenchFlags { quick: boolean; only: BenchSection[]; backends: Backend[]; layout: RedisLayout; out: string; profile?: string; scaleDevices?: number }

/**
 * `outbound bench [--quick]`: the benchmark harness (bench/README.md). Starts its own
 * redis-server, ingress, dispatcher and device processes on 127.0.0.1, uses PostgreSQL on
 * 127.0.0.1:5432 (OUTBOUND_BENCH_PG_URL), stops everything it started, writes bench/results/.
 */
export function register(program: Command): void {
  program
    .command('bench')
    .description('benchmark: end to end per backend, raw TCP limit, queue core vs BullMQ, connection scale (bench/README.md)')
    .option('--quick', 'short everyday run (under 2 minutes)', false)
    .option('--only <sections>', `sections to run: ${BENCH_SECTIONS.join(',')}`, list(BENCH_SECTIONS), BENCH_SECTIONS)
    .option('--backends <names>', 'end-to-end backends: redis,postgres', list(['redis', 'postgres'] as const), ['redis', 'postgres'] as Backend[])
    .addOption(new Option('--layout <name>', 'Redis record layout of the end-to-end dispatcher').choices(REDIS_LAYOUTS).env('QUEUE_REDIS_LAYOUT').default(DEFAULT_REDIS_LAYOUT))
    .option('--out <dir>', 'results directory', join(REPO_ROOT, 'bench', 'results'))
    .option('--profile <dir>', 'write --cpu-prof profiles of ingress, dispatcher and devices (end-to-end section) to this directory')
    .option('--scale-devices <n>', 'devices for the connection-scale section (default 50000, quick 5000)', positiveInt)
    .action(async (flags: BenchFlags) => {
      const command = ['outbound bench', ...process.argv.slice(3)].join(' ');
      await runBench({
        quick: flags.quick, sections: flags.only, backends: flags.backends, redisLayout: flags.layout, outDir: flags.out, profileDir: flags.profile,
        scaleDevices: flags.scaleDevices, command,
      });
      // Every section stopped what it started; exiting here also ends anything a failed section
      // left behind (ChildGroup kills its processes on exit), so a run always ends by itself.
      process.exit(0);
    });
}
