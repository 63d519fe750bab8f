/**
 * `npm run chaos`: the fault suite. Each case starts its own processes (a private
 * redis-server, ingress replicas, dispatchers, the device process; PostgreSQL cases share one
 * private PostgreSQL server started here), runs load, injects its fault, heals it, waits for
 * the queue to drain and counts, from the device process' log, what was accepted, finished,
 * lost, delivered twice and out of order. Prints one line per case and a table at the end;
 * exits 1 when a case failed.
 *
 *   node tools/bench/dist/chaos/run-chaos.js [--only name,name] [--backend redis|postgres] [--json file]
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ChildGroup } from '../bench/child-processes';
import { runCase, type CaseResult } from './chaos-case';
import { allCases } from './chaos-cases';
import { formatResult, renderTable } from './chaos-report';
import { startChaosPostgres, type ChaosPostgres } from './postgres-server';

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

async function main(): Promise<void> {
  const only = arg('--only')?.split(',');
  const backend = arg('--backend');
  const cases = allCases().filter((c) => (!only || only.includes(c.name)) && (!backend || c.backend === backend));
  if (cases.length === 0) throw new Error('chaos: no case matches --only/--backend');
  const started = Date.now();
  // The durations depend on how busy the host is: say so next to them.
  const load = (): string => loadavg().map((v) => v.toFixed(1)).join(' ');
  const loadAtStart = load();
  console.log(`load average at start: ${loadAtStart}`);
  const group = new ChildGroup();
  let postgres: ChaosPostgres | undefined;
  const results: CaseResult[] = [];
  try {
    if (cases.some((c) => c.backend === 'postgres')) postgres = await startChaosPostgres(group, 'postgres');
    for (const c of cases) {
      console.log(`${c.backend} ${c.name}: ${c.proves}`);
      const result = await runCase(c, { postgres });
      results.push(result);
      console.log(formatResult(result));
    }
  } finally {
    await postgres?.stop().catch(() => undefined);
    await group.stopAll();
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`\n${renderTable(results)}\n`);
  const failed = results.filter((r) => !r.passed);
  console.log(`${results.length - failed.length} of ${results.length} cases passed in ${seconds} s (load average at start ${loadAtStart}, at the end ${load()})`);
  const json = arg('--json');
  if (json) writeFileSync(json, `${JSON.stringify({ startedAt: new Date(started).toISOString(), seconds, loadAtStart, loadAtEnd: load(), results }, null, 2)}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
