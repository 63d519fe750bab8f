import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rssTrendPercent, type SoakReport } from '../../src/bench/soak-report';

const SOAK = join(__dirname, '..', '..', 'dist', 'bench', 'soak.js');

describe('soak RSS trend', () => {
  it('is flat for a series that only wobbles, and names the growth of one that creeps', () => {
    expect(Math.abs(rssTrendPercent([100, 104, 98, 103, 99, 101])!)).toBeLessThan(3);
    // +2 MB a minute from 100 MB over 10 minutes: the line goes from 100 to 118.
    expect(rssTrendPercent(Array.from({ length: 10 }, (_, i) => 100 + 2 * i))).toBeCloseTo(18, 5);
    // One GC spike at the end does not make a trend the way first-vs-last would.
    expect(Math.abs(rssTrendPercent([100, 100, 100, 100, 100, 100, 100, 100, 100, 80])!)).toBeLessThan(10);
  });

  it('leaves out samples of a process that is gone and answers null below three points', () => {
    expect(rssTrendPercent([100, Number.NaN, 100, 100])).toBe(0);
    expect(rssTrendPercent([100, 120])).toBeNull();
  });
});

/**
 * The short version of `npm run soak` (the real command, from dist/): 20 s at 50 commands/s to
 * 50 churning devices. It proves the harness runs end to end and that nothing is lost; the RSS
 * trend needs a long run (docs/operations.md, Soak run), so 2 intervals leave none to judge.
 */
describe('npm run soak, short', () => {
  const out = mkdtempSync(join(tmpdir(), 'outbound-soak-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('delivers every command through redis-server, ingress, dispatcher and the fleet, and writes JSON and markdown', async () => {
    if (!existsSync(SOAK)) throw new Error(`${SOAK} is missing: run \`npm run build\` before this test`);
    const child = spawn(process.execPath, [SOAK, '--minutes', '0.34', '--rate', '50', '--devices', '50', '--interval', '10', '--drain-seconds', '60', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`soak exited with ${code}:\n${output}`);

    const json = readdirSync(out).find((f) => f.endsWith('-soak.json'));
    expect(readdirSync(out).filter((f) => f.endsWith('-soak.md'))).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(out, json!), 'utf8')) as SoakReport;
    expect(report.passed).toBe(true);
    // The open loop offers 50/s for 20.4 s in 100 ms batches: about 1,000 (the last batch may fall
    // past the end); each was accepted or refused with a truthful answer (a 503 stores nothing).
    expect(report.totals.sent + report.totals.refused).toBeGreaterThanOrEqual(950);
    expect(report.totals.sent + report.totals.refused).toBeLessThanOrEqual(1_020);
    expect(report.totals.sent).toBeGreaterThan(0);
    expect(report.totals.lost).toBe(0);
    expect(report.totals.queuedAtEnd).toBe(0);
    expect(report.totals.acked + report.totals.rejected + report.totals.deadLettered + report.totals.expired).toBe(report.totals.sent);
    expect(report.totals.rejected + report.totals.busyAnswers).toBeGreaterThan(0); // the devices reject 1% and answer BUSY to 2%: the outcomes are read, not assumed
    expect(report.intervals).toHaveLength(2);
    for (const interval of report.intervals) {
      for (const name of ['redis-server', 'ingress-1', 'dispatcher-1', 'fleet-1', 'load-generator']) expect(interval.rssMb[name]).toBeGreaterThan(0);
      expect(Object.keys(interval.loopDelayMs).sort()).toEqual(['dispatcher-1', 'ingress-1', 'load-generator']);
    }
    expect(report.store.bytesPerRetainedCommand).toBeGreaterThan(0);
  }, 90_000);
});
