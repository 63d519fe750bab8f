import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { b64, startStack, type Stack } from './e2e/support/stack';

/** Reads one gauge (only the default `service` label) from the dispatcher's /metrics: the real scrape path, collect() included. */
async function scrapeGauge(stack: Stack, name: string): Promise<number> {
  const res = await request(stack.api.app).get('/metrics').expect(200);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} missing from /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

const GAUGE = 'outbound_dispatcher_device_inflight_max';

describe('outbound_dispatcher_device_inflight_max (the per-device in-flight alert\'s metric)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'metrics-device-inflight', dispatcher: { queue: { maxInFlightPerDevice: 3 } } });
  });
  afterAll(() => stack.stop());

  it('reads 0 with nothing in flight, the per-device peak while a slow device holds ACKs, and 0 again after', async () => {
    expect(await scrapeGauge(stack, GAUGE)).toBe(0);
    // Slow ACKs keep three commands outstanding for SLOW-1 while FAST-1 holds at most one: the gauge is the max, not the sum.
    await stack.device('SLOW-1', { ackLatencyMs: 1_500 });
    await stack.device('FAST-1');
    const slow = await Promise.all([1, 2, 3, 4, 5].map((n) => stack.enqueue({ phyId: 'SLOW-1', payload: b64(`s${n}`), ackTimeoutMs: 5_000 })));
    const fast = await stack.enqueue({ phyId: 'FAST-1', payload: b64('f') });
    const seen = new Set<number>();
    await waitFor(async () => {
      const value = await scrapeGauge(stack, GAUGE);
      seen.add(value);
      return value === 3;
    }, { timeoutMs: 5_000, intervalMs: 25, what: `${GAUGE} to reach 3` });
    await stack.waitStatus(fast, 'acked');
    await stack.waitAllStatus(slow, 'acked', 15_000);
    await waitFor(async () => (await scrapeGauge(stack, GAUGE)) === 0, { what: `${GAUGE} back to 0` });
    // Never above the configured per-device limit.
    expect(Math.max(...seen)).toBe(3);
  });
});
