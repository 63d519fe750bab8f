import { existsSync, readFileSync } from 'node:fs';

export interface GcStats {
  /** Scavenges (young generation) in the window. */
  minorCount: number;
  minorTotalMs: number;
  minorP50Ms: number;
  minorMaxMs: number;
  /** Pauses of every other kind (mark-compact, incremental marking steps, weak callbacks). */
  otherCount: number;
  otherTotalMs: number;
}

/** The pauses gc-observer logged in `file` between two wall-clock times (ms). */
export function gcStats(file: string, fromMs: number, toMs: number): GcStats {
  const minor: number[] = [];
  let otherCount = 0;
  let otherTotalMs = 0;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [at, kind, ms] = line.split(' ');
    const t = Number(at);
    if (!ms || t < fromMs || t > toMs) continue;
    if (kind === 'minor') minor.push(Number(ms));
    else { otherCount++; otherTotalMs += Number(ms); }
  }
  minor.sort((a, b) => a - b);
  return {
    minorCount: minor.length,
    minorTotalMs: minor.reduce((a, b) => a + b, 0),
    minorP50Ms: minor.length ? minor[Math.floor(minor.length / 2)]! : 0,
    minorMaxMs: minor.length ? minor[minor.length - 1]! : 0,
    otherCount,
    otherTotalMs,
  };
}
