import { Counter, Histogram, Registry } from 'prom-client';
import { FrameType } from '@outbound/core/protocol';
import { IngressMetrics } from '../src/metrics';

/** Sample lines of `name` (any suffix), without the HELP and TYPE lines. */
async function samples(registry: Registry, name: string): Promise<string[]> {
  return (await registry.getSingleMetricAsString(name)).split('\n').filter((line) => line && !line.startsWith('#'));
}

describe('ingress metrics counted per command, handed to prom-client at the scrape', () => {
  it('exposes the ACK latency histogram exactly as observe() would have, across scrapes and a reset', async () => {
    const metrics = new IngressMetrics(new Registry());
    const reference = new Registry();
    const observed = new Histogram({
      name: 'outbound_ingress_ack_latency_seconds',
      help: 'COMMAND written to ACK received',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [reference],
    });
    // Below, on and between bounds, and above the last one (only in +Inf).
    const rounds = [[0, 1, 2, 3, 7, 250, 999, 1000, 1001], [45_000, 5, 5, 30_000], [12]];
    for (const [i, latencies] of rounds.entries()) {
      if (i === 2) {
        // After a scrape: a reset drops what prom-client holds, and the series is made again.
        metrics.registry.resetMetrics();
        reference.resetMetrics();
      }
      for (const ms of latencies) {
        metrics.ackLatencyMs(ms);
        observed.observe(ms / 1000);
      }
      const got = await samples(metrics.registry, 'outbound_ingress_ack_latency_seconds');
      const want = await samples(reference, 'outbound_ingress_ack_latency_seconds');
      // Every bucket and the count exactly; the sum up to the order its additions were made in.
      const sum = (lines: string[]) => Number(lines.find((l) => l.startsWith('outbound_ingress_ack_latency_seconds_sum '))!.split(' ')[1]);
      expect(got.filter((l) => !l.includes('_sum '))).toEqual(want.filter((l) => !l.includes('_sum ')));
      expect(sum(got)).toBeCloseTo(sum(want), 9);
    }
    expect(await samples(metrics.registry, 'outbound_ingress_ack_latency_seconds')).toContain('outbound_ingress_ack_latency_seconds_count 1');
  });

  it('counts frames by type and deliveries by outcome, each scrape adding only what came since the last', async () => {
    const metrics = new IngressMetrics(new Registry());
    const reference = new Registry();
    const framesIn = new Counter({ name: 'outbound_ingress_frames_in_total', help: 'Frames received from devices by type', labelNames: ['type'], registers: [reference] });
    const framesOut = new Counter({ name: 'outbound_ingress_frames_out_total', help: 'Frames sent to devices by type', labelNames: ['type'], registers: [reference] });
    const deliveries = new Counter({ name: 'outbound_ingress_deliveries_total', help: 'Delivery requests by outcome', labelNames: ['outcome'], registers: [reference] });
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 3 * round; i++) {
        metrics.frameIn(FrameType.ACK);
        framesIn.inc({ type: 'ACK' });
        metrics.frameOut(FrameType.COMMAND);
        framesOut.inc({ type: 'COMMAND' });
        metrics.delivered('ok');
        deliveries.inc({ outcome: 'ok' });
      }
      metrics.frameIn(0xee);
      framesIn.inc({ type: 'unknown' });
      // A type this protocol does not define is not counted going out.
      metrics.frameOut(0xee);
      metrics.frameOut(FrameType.PONG, 2);
      framesOut.inc({ type: 'PONG' }, 2);
      metrics.delivered('ack_timeout');
      deliveries.inc({ outcome: 'ack_timeout' });
      for (const name of ['outbound_ingress_frames_in_total', 'outbound_ingress_frames_out_total', 'outbound_ingress_deliveries_total']) {
        expect((await samples(metrics.registry, name)).sort()).toEqual((await samples(reference, name)).sort());
      }
    }
    // Counted through prom-client directly as well (the rare outcomes): both add up.
    metrics.deliveries.labels('ok').inc();
    metrics.delivered('ok');
    expect(await samples(metrics.registry, 'outbound_ingress_deliveries_total')).toContain('outbound_ingress_deliveries_total{outcome="ok"} 11');
  });
});
