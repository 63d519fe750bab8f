import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gcStats } from '../../src/bench/gc-stats';

/** The latency bench's garbage-collection figures: the observer it preloads, and their reading per step. */
describe('gc stats', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gc-stats-'));

  it('counts the scavenges of the window only, with their p50, longest and total, and the other pauses apart', () => {
    const file = join(dir, 'window.gc');
    writeFileSync(file, [
      '999.0 minor 50.000', // before the window
      '1000.0 minor 2.000',
      '1100.5 minor 6.000',
      '1200.0 major 9.500',
      '1300.0 minor 4.000',
      '1400.0 incremental 0.500',
      '2001.0 minor 70.000', // after it
      '',
    ].join('\n'));
    expect(gcStats(file, 1000, 2000)).toEqual({ minorCount: 3, minorTotalMs: 12, minorP50Ms: 4, minorMaxMs: 6, otherCount: 2, otherTotalMs: 10 });
    expect(gcStats(join(dir, 'absent.gc'), 0, 1e15)).toEqual({ minorCount: 0, minorTotalMs: 0, minorP50Ms: 0, minorMaxMs: 0, otherCount: 0, otherTotalMs: 0 });
  });

  it('logs each collection of the process it is loaded in, with its wall-clock time and kind', async () => {
    const file = join(dir, 'observed.gc');
    process.env.BENCH_GC_FILE = file;
    await import('../../src/bench/gc-observer');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;
    const from = Date.now();
    const deadline = Date.now() + 10_000;
    let stats = gcStats(file, from - 1, Date.now() + 1);
    // A collection asked for again until one of each kind is logged (the observer flushes every 500 ms)
    while ((stats.minorCount === 0 || stats.otherCount === 0) && Date.now() < deadline) {
      gc({ type: 'minor' });
      gc(); // a full collection (asked for as { type: 'major' }, Node 20's V8 ran a scavenge)
      await new Promise((resolve) => setTimeout(resolve, 100));
      stats = gcStats(file, from - 1, Date.now() + 1);
    }
    expect(stats.minorCount).toBeGreaterThanOrEqual(1);
    expect(stats.otherCount).toBeGreaterThanOrEqual(1);
    expect(readFileSync(file, 'utf8')).toMatch(/^\d+\.\d \w+ \d+\.\d{3}$/m);
    delete process.env.BENCH_GC_FILE;
  }, 20_000);
});
