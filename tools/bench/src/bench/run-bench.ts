import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { checkTargets, renderMarkdown, type BenchReport } from './bench-report';
import { REPO_ROOT } from './child-processes';
import { runConnectionScale } from './connection-scale';
import { runEndToEnd } from './end-to-end';
import { renderLatencyChart } from './latency-chart';
import { runQueueCore } from './queue-core-compare';
import { runRawTcp } from './raw-tcp';
import type { Backend } from './service-processes';
import type { RedisLayout } from '@outbound/core';

export type BenchSection = 'e2e' | 'raw' | 'core' | 'scale';
export const BENCH_SECTIONS: BenchSection[] = ['e2e', 'raw', 'core', 'scale'];

export interface BenchOptions {
  quick: boolean;
  sections: BenchSection[];
  backends: Backend[];
  /** Redis record layout of the end-to-end dispatcher (QUEUE_REDIS_LAYOUT; by default the services' default). */
  redisLayout: RedisLayout;
  /** Where the JSON, markdown and SVG go (default bench/results). */
  outDir: string;
  /** --cpu-prof output directory for the end-to-end processes. */
  profileDir?: string;
  /** Devices for the connection-scale section (default 50,000; quick 5,000). */
  scaleDevices?: number;
  command: string;
  log?: (line: string) => void;
}

/** Durations and sizes of a quick run (< 2 minutes) and a full one. */
function plan(quick: boolean) {
  return quick
    ? { saturationSeconds: 4, stepSeconds: 2, rates: [50, 500, 1_000, 5_000], sample: 10_000, rawSeconds: 3, coreCommands: 5_000, coreRuns: 1, scaleDevices: 5_000 }
    : { saturationSeconds: 20, stepSeconds: 10, rates: [50, 500, 1_000, 2_000, 5_000, 10_000], sample: 50_000, rawSeconds: 10, coreCommands: 20_000, coreRuns: 3, scaleDevices: 50_000 };
}

function redisVersion(): string {
  try {
    return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[0]?.replace('v=', 'redis-server ') ?? 'redis-server';
  } catch {
    return 'redis-server (not found)';
  }
}

/** Runs the chosen sections in order and writes `<stamp>-<mode>.{json,md,svg}` to `outDir`. */
export async function runBench(options: BenchOptions): Promise<{ report: BenchReport; files: string[] }> {
  const log = options.log ?? ((line: string) => console.log(line));
  const p = plan(options.quick);
  const started = Date.now();
  const cpuList = cpus();
  const partial: Omit<BenchReport, 'targets'> = {
    mode: options.quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationSeconds: 0,
    command: options.command,
    host: {
      cpus: cpuList.length, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version, loadAverageAtStart: loadavg(), redis: redisVersion(),
    },
    endToEnd: [],
  };
  const has = (s: BenchSection) => options.sections.includes(s);
  if (has('raw')) {
    log(`raw TCP limit: 1,000 connections, ${p.rawSeconds} s`);
    partial.rawTcp = await runRawTcp({ connections: 1_000, seconds: p.rawSeconds });
    log(`  ${partial.rawTcp.roundTripsPerSec} round trips/s`);
  }
  if (has('e2e')) {
    for (const backend of options.backends) {
      log(`end to end on ${backend}${backend === 'redis' ? ` (${options.redisLayout} layout)` : ''}: 1,000 devices`);
      partial.endToEnd.push(await runEndToEnd({
        backend, redisLayout: options.redisLayout, devices: 1_000, saturationSeconds: p.saturationSeconds, stepSeconds: p.stepSeconds, rates: p.rates, sample: p.sample,
        profileDir: options.profileDir, log,
      }));
    }
  }
  if (has('core')) {
    log(`queue core: ${p.coreCommands} commands, median of ${p.coreRuns}`);
    partial.queueCore = await runQueueCore({ commands: p.coreCommands, runs: p.coreRuns, log });
  }
  if (has('scale')) {
    const devices = options.scaleDevices ?? p.scaleDevices;
    log(`connection scale: ${devices} devices on one ingress`);
    partial.connectionScale = await runConnectionScale({ devices, log });
  }
  partial.durationSeconds = Math.round((Date.now() - started) / 1000);
  const report: BenchReport = { ...partial, targets: checkTargets(partial) };

  mkdirSync(options.outDir, { recursive: true });
  const stamp = report.startedAt.replace(/[:]/g, '').replace(/\..*$/, '');
  const base = join(options.outDir, `${stamp}-${report.mode}`);
  const files = [`${base}.json`];
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  let chart: string | undefined;
  const measured = report.endToEnd.filter((r) => !r.error && r.steps.length > 0);
  if (measured.length > 0) {
    try {
      writeFileSync(`${base}-latency.svg`, await renderLatencyChart(measured, `Enqueue-to-ACK latency vs offered load (${report.mode} run, ${report.startedAt.slice(0, 10)})`));
      chart = `${stamp}-${report.mode}-latency.svg`;
      files.push(`${base}-latency.svg`);
    } catch (error) {
      log(`chart not drawn: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  writeFileSync(`${base}.md`, renderMarkdown(report, chart));
  files.push(`${base}.md`);
  log(`\n${renderMarkdown(report, chart)}`);
  log(`results: ${files.map((f) => relative(REPO_ROOT, f)).join(', ')} (${report.durationSeconds} s)`);
  return { report, files };
}
