import { randomUUID } from 'node:crypto';
// The client module alone: the package's main starts a dispatcher.
import { DeliveryClient } from '@outbound/dispatcher/dist/delivery-client';
import { startBenchRedis } from './bench-stores';
import { ChildGroup } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { BENCH_SECRETS, startIngressProcess } from './service-processes';

/**
 * The dispatcher→ingress hop alone, idle (`npm run build && npm run bench:hop`; bench/README.md,
 * "The delivery stream"): one delivery at a time, from the delivery client's call until its
 * answer line was handed back, to one simulated device (its own process, ACK at once) on a built
 * ingress process, over the delivery stream and over batch calls, taken in turn (one of each per
 * round, the order alternating) so both see the same host. Prints p50 / p90 / p99 / mean ms per mode.
 *
 * Env: BENCH_HOP_ROUNDS (default 2,000 deliveries per mode), BENCH_HOP_WARMUP (200 per mode),
 * BENCH_HOP_GAP_MS (default 2: the wait between deliveries, so each finds both processes idle).
 */
const ROUNDS = Number(process.env.BENCH_HOP_ROUNDS ?? 2_000);
const WARMUP = Number(process.env.BENCH_HOP_WARMUP ?? 200);
const GAP_MS = Number(process.env.BENCH_HOP_GAP_MS ?? 2);

type Mode = 'stream' | 'batch call';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  const clients: Record<Mode, DeliveryClient> = {
    stream: new DeliveryClient({ internalToken: BENCH_SECRETS.internalToken, stream: true }),
    'batch call': new DeliveryClient({ internalToken: BENCH_SECRETS.internalToken, stream: false }),
  };
  try {
    const redis = await startBenchRedis(group, 'hop-redis', { persistence: false });
    const ingress = await startIngressProcess(group, 'hop-ingress', { backend: 'redis', redisUrl: redis.url, prefix: 'hopbench' });
    const fleet = new FleetProcess(group, 'hop-device', { host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: 1, idPrefix: 'HOP' });
    await fleet.waitConnected();
    const phyId = fleetPhyId('HOP', 1, 0);
    const payload = Buffer.alloc(32, 7);
    const once = async (mode: Mode): Promise<number> => {
      let status = 0;
      const started = performance.now();
      await clients[mode].deliverBatch(ingress.httpUrl, [{ phyId, id: randomUUID(), payload, ackTimeoutMs: 5_000 }], (answer) => { status = answer.status; });
      const ms = performance.now() - started;
      if (status !== 200) throw new Error(`${mode}: the delivery was answered ${status}`);
      return ms;
    };
    const samples: Record<Mode, number[]> = { stream: [], 'batch call': [] };
    const modes: Mode[] = ['stream', 'batch call'];
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      const order = round % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const ms = await once(mode);
        if (round >= WARMUP) samples[mode].push(ms);
        await new Promise((resolve) => setTimeout(resolve, GAP_MS));
      }
    }
    console.log(`dispatcher→ingress hop, idle round trip of one delivery (${ROUNDS} per mode after ${WARMUP} warm-up, interleaved, ${GAP_MS} ms apart)`);
    console.log('mode        p50 ms  p90 ms  p99 ms  mean ms');
    for (const mode of modes) {
      const sorted = [...samples[mode]].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
      console.log(`${mode.padEnd(10)}  ${[quantile(sorted, 0.5), quantile(sorted, 0.9), quantile(sorted, 0.99), mean].map((v) => v.toFixed(3).padStart(6)).join('  ')}`);
    }
    await fleet.stop();
  } finally {
    await Promise.all(Object.values(clients).map((c) => c.close()));
    await group.stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
