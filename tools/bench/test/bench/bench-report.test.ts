import { percentiles } from '../../src/bench/ack-latency';
import { checkTargets, renderMarkdown, type BenchReport } from '../../src/bench/bench-report';
import type { E2eResult } from '../../src/bench/end-to-end';
import { parseQueueCoreTable } from '../../src/bench/queue-core-compare';

/** The pure parts of the benchmark harness; the bench itself never runs in `npm test`. */
describe('benchmark report', () => {
  it('reads the queue-core tables of both engineers\' scripts (Redis: 6 columns, PostgreSQL: 6 with claim latencies)', () => {
    const redis = [
      'RedisQueue on redis://127.0.0.1:1: 20000 commands',
      '| claim batch | enqueue cmds/s  | claim+ack cmds/s  | end-to-end cmds/s  | redis CPU us/cmd | node CPU us/cmd |',
      '|------------:|----------------:|------------------:|-------------------:|-----------------:|----------------:|',
      '|           1 |           21217 |              2223 |               1990 |               55 |              80 |',
      '|          64 |           27437 |             14105 |               8902 |               30 |              20 |',
    ].join('\n');
    expect(parseQueueCoreTable(redis)).toEqual([
      { batch: 1, enqueuePerSec: 21217, claimAckPerSec: 2223, endToEndPerSec: 1990 },
      { batch: 64, enqueuePerSec: 27437, claimAckPerSec: 14105, endToEndPerSec: 8902 },
    ]);
    expect(parseQueueCoreTable('| 64 | 16330 | 5685 | 4197 | 1.20 | 3.40 |')).toEqual([{ batch: 64, enqueuePerSec: 16330, claimAckPerSec: 5685, endToEndPerSec: 4197 }]);
    expect(parseQueueCoreTable('no table here')).toEqual([]);
    expect(parseQueueCoreTable(redis, { redisCpu: true }).map((r) => r.redisCpuUsPerCmd)).toEqual([55, 30]);
  });

  it('puts Redis CPU per command of the default layout against BullMQ\'s at the same concurrency', () => {
    const row = (batch: number, redisCpuUsPerCmd: number) => ({ batch, enqueuePerSec: 1, claimAckPerSec: 1, endToEndPerSec: 1, redisCpuUsPerCmd });
    const bull = (concurrency: number, redisCpuUsPerJob: number) => ({ concurrency, jobs: 1, addPerSec: 1, processPerSec: 1, endToEndPerSec: 1, redisCpuUsPerJob });
    const partial: Omit<BenchReport, 'targets'> = {
      mode: 'quick', startedAt: '2026-01-01T00:00:00.000Z', durationSeconds: 1, command: 'outbound bench --quick',
      host: { cpus: 2, cpuModel: 'x', memoryGb: 1, node: 'v20', loadAverageAtStart: [0, 0, 0], redis: 'redis-server 7' },
      endToEnd: [],
      queueCore: {
        commands: 1, runs: 3, defaultLayout: 'v3', redis: [row(64, 10)], redisV3: [row(1, 150), row(64, 30)], postgres: [],
        bullmq: [bull(1, 160), bull(64, 100)], redisBatch64OverBullmq: 1, errors: [],
      },
    };
    const targets = checkTargets(partial);
    const byName = (prefix: string) => targets.find((t) => t.target.startsWith(prefix))!;
    expect(byName('Queue core Redis CPU/command at batch 64')).toMatchObject({ measured: '0.30x (30.0 vs 100.0 µs)', met: true });
    expect(byName('Queue core Redis CPU/command at batch 1')).toMatchObject({ measured: '0.94x (150.0 vs 160.0 µs)', met: true });
    const markdown = renderMarkdown({ ...partial, targets });
    expect(markdown).toContain('| Outbound RedisQueueV3 (v3 layout) | 64 | 1 | 1 | 1 | 30.0 |');
    expect(markdown).toContain('| BullMQ (same redis-server) | concurrency 64 | 1 | 1 | 1 | 100.0 |');
    const without = checkTargets({ ...partial, queueCore: { ...partial.queueCore!, bullmq: [] } });
    expect(without.find((t) => t.target.startsWith('Queue core Redis CPU/command at batch 64'))!.met).toBeNull();
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentiles([]).count).toBe(0);
  });

  it('checks each target against what was measured and says what was not measured', () => {
    const redis: E2eResult = {
      backend: 'redis', devices: 1000,
      max: { ackedPerSec: 25_000, accepted: 1, refused: 0, seconds: 20, drainMs: 5, leftBehind: 0, duplicatesAtDevices: 0, cpuCores: {} },
      steps: [{ offeredPerSec: 1000, seconds: 10, accepted: 10_000, refused: 0, latencyMs: { count: 1, p50: 1.5, p95: 4, p99: 18, max: 20 }, enqueueAnswerMs: percentiles([1]), notAcked: 0, eightyPercentOfMax: false }],
    };
    const partial: Omit<BenchReport, 'targets'> = {
      mode: 'quick', startedAt: '2026-01-01T00:00:00.000Z', durationSeconds: 1, command: 'outbound bench --quick',
      host: { cpus: 2, cpuModel: 'x', memoryGb: 1, node: 'v20', loadAverageAtStart: [0, 0, 0], redis: 'redis-server 7' },
      endToEnd: [redis], rawTcp: { connections: 1000, messageBytes: 64, seconds: 1, roundTripsPerSec: 40_000 },
    };
    const targets = checkTargets(partial);
    const byName = (prefix: string) => targets.find((t) => t.target.startsWith(prefix))!;
    expect(byName('Redis e2e >= 20,000').met).toBe(true);
    expect(byName('Redis e2e >= 0.3').measured).toBe('0.63');
    expect(byName('Redis e2e >= 0.3').met).toBe(true);
    expect(byName('Redis at 50/s (idle)').met).toBeNull();
    expect(byName('Redis at 1,000/s: p50').met).toBe(true);
    expect(byName('Redis at 1,000/s: p99').met).toBe(false);
    expect(byName('PostgreSQL e2e').met).toBeNull();
    const markdown = renderMarkdown({ ...partial, targets });
    expect(markdown).toContain('| enqueue-to-ACK p50 / p95 / p99 ms at 1,000/s | 1.50 / 4.00 / 18.0 | not run |');
    expect(markdown).toContain('| Redis at 1,000/s: p99 <= 15 ms | 18.0 ms | **no** |');
  });
});
