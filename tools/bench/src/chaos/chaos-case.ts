import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sleep } from '../bench/child-processes';
import { BENCH_SECRETS, type Backend } from '../bench/service-processes';
import { basePass, countCase, TERMINAL, type ChaosCounts } from './chaos-verdict';
import { ChaosStack, CHAOS_TIMING, type StackOptions } from './chaos-stack';
import { LoadDriver, type LoadOptions } from './load-driver';
import type { ChaosPostgres } from './postgres-server';

/** What a case's fault step hands back: notes for the report and failures beyond the shared rule. */
export interface FaultOutcome {
  notes: string[];
  failures: string[];
}

/** The running case, as its fault step sees it. */
export interface CaseContext {
  stack: ChaosStack;
  driver: LoadDriver;
  postgres?: ChaosPostgres;
  log(line: string): void;
}

export interface ChaosCase {
  /** Short name (`dispatcher-kill`), unique per backend. */
  name: string;
  backend: Backend;
  /** What passing proves, printed with the result. */
  proves: string;
  stack: Omit<StackOptions, 'backend' | 'phyIds' | 'silentPhyIds' | 'postgres' | 'database'>;
  devices: number;
  silentDevices?: number;
  load: Omit<LoadOptions, 'phyIds' | 'silentPhyIds' | 'ackTimeoutMs'>;
  /** Runs under load after a warm-up; returns once the fault is over (healed). */
  fault(ctx: CaseContext): Promise<FaultOutcome>;
  /** Case-specific checks on the counts and the device log. */
  check?(ctx: CaseContext, counts: ChaosCounts, statuses: ReadonlyMap<string, string>): string[];
  /** Load after the fault is healed, before the drain (default 2 s). */
  afterMs?: number;
}

export interface CaseResult {
  name: string;
  backend: Backend;
  proves: string;
  counts: ChaosCounts;
  failures: string[];
  notes: string[];
  seconds: number;
  passed: boolean;
}

const WARM_UP_MS = 2_000;
const DRAIN_MS = 30_000;

/** GET /v1/commands/:id for each id (16 at a time); 'missing' for a 404, 'error' when the API did not answer. */
async function statusesOf(apiUrl: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        const response = await fetch(`${apiUrl}/v1/commands/${id}`, { headers: { authorization: `Bearer ${BENCH_SECRETS.apiKey}` }, signal: AbortSignal.timeout(10_000) });
        if (response.status === 404) out.set(id, 'missing');
        else if (response.ok) out.set(id, ((await response.json()) as { status: string }).status);
        else out.set(id, `http-${response.status}`);
      } catch {
        out.set(id, 'error');
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

/**
 * Waits until every accepted command is terminal (and every answering device received its
 * commands), or DRAIN_MS passes; answers the last statuses read.
 */
async function drain(stack: ChaosStack, ids: string[], silent: Set<string>, driver: LoadDriver): Promise<Map<string, string>> {
  const deadline = Date.now() + DRAIN_MS;
  const toDevice = new Map(driver.records.filter((r) => r.id && !silent.has(r.phyId)).map((r) => [r.id!, r.phyId]));
  for (;;) {
    const received = new Set(stack.readLog().map((l) => l.id));
    const waiting = ids.filter((id) => toDevice.has(id) && !received.has(id));
    if (waiting.length === 0 || Date.now() > deadline) break;
    await sleep(250);
  }
  const statuses = await statusesOf(stack.apiUrl(), ids);
  while (Date.now() < deadline) {
    const open = ids.filter((id) => !TERMINAL.has(statuses.get(id) ?? '') && statuses.get(id) !== 'missing');
    if (open.length === 0) break;
    await sleep(500);
    for (const [id, status] of await statusesOf(stack.apiUrl(), open)) statuses.set(id, status);
  }
  return statuses;
}

/** phyIds of a case: CHAOS001.. for answering devices, MUTE001.. for silent ones. */
function phyIdsOf(c: ChaosCase): { phyIds: string[]; silent: string[] } {
  const answering = Array.from({ length: c.devices }, (_, i) => `CHAOS${String(i + 1).padStart(3, '0')}`);
  const silent = Array.from({ length: c.silentDevices ?? 0 }, (_, i) => `MUTE${String(i + 1).padStart(3, '0')}`);
  return { phyIds: [...answering, ...silent], silent };
}

/** Runs one case end to end: start, warm up, fault under load, heal, drain, count, judge. */
export async function runCase(c: ChaosCase, options: { postgres?: ChaosPostgres; log?: (line: string) => void } = {}): Promise<CaseResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = Date.now();
  const { phyIds, silent } = phyIdsOf(c);
  const stack = new ChaosStack({
    ...c.stack, backend: c.backend, phyIds, silentPhyIds: silent, postgres: options.postgres,
    database: c.backend === 'postgres' ? `chaos_${c.name.replace(/-/g, '_')}` : undefined,
  });
  const notes: string[] = [];
  const failures: string[] = [];
  let counts: ChaosCounts | undefined;
  let driver: LoadDriver | undefined;
  try {
    await stack.start();
    driver = new LoadDriver(stack.targets, { ...c.load, phyIds, silentPhyIds: silent, ackTimeoutMs: CHAOS_TIMING.ackTimeoutMs });
    const ctx: CaseContext = { stack, driver, postgres: options.postgres, log: (line) => log(`    ${line}`) };
    const phaseLog = (what: string) => log(`    ${what} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
    phaseLog('stack up');
    driver.start();
    await sleep(WARM_UP_MS);
    const outcome = await c.fault(ctx);
    notes.push(...outcome.notes);
    failures.push(...outcome.failures);
    await sleep(c.afterMs ?? 2_000);
    await driver.stop();
    phaseLog('load stopped');
    const replaced = await stack.replaceExitedDispatchers();
    if (replaced) notes.push(`${replaced} dispatcher(s) that exited were started again to drain the queue`);

    // Unknown outcomes are looked up by their id once the store answers again.
    const ids = [...new Set(driver.records.filter((r) => r.id && (r.answer === 'accepted' || r.answer === 'unknown')).map((r) => r.id!))];
    const statuses = await drain(stack, ids, new Set(silent), driver);
    phaseLog('drained');
    counts = countCase({ records: driver.records, log: stack.readLog(), statuses });
    failures.push(...basePass(counts));
    if (counts.accepted === 0) failures.push('no command was accepted: the case proved nothing');
    failures.push(...(c.check?.(ctx, counts, statuses) ?? []));
    const exits = stack.unexpectedExits;
    if (exits.length) failures.push(`processes exited on their own: ${exits.join(', ')}`);
  } catch (error) {
    failures.push(`harness: ${(error as Error).message}`);
  } finally {
    const keep = failures.length > 0;
    await stack.close(keep).catch((error: Error) => failures.push(`harness: close failed: ${error.message}`));
    if (keep) {
      // What the API answered, next to what the devices received, for reading the failure.
      const answers = join(dirname(stack.logFile), 'api-answers.ndjson');
      writeFileSync(answers, (driver?.records ?? []).map((r) => JSON.stringify(r)).join('\n'));
      notes.push(`device log kept: ${stack.logFile}, the API's answers: ${answers}`);
    }
  }
  const result: CaseResult = {
    name: c.name, backend: c.backend, proves: c.proves, notes, failures, passed: failures.length === 0,
    counts: counts ?? countCase({ records: [], log: [], statuses: new Map() }), seconds: Math.round((Date.now() - started) / 1000),
  };
  return result;
}
