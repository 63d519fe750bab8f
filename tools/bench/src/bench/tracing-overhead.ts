#!/usr/bin/env node
/**
 * What tracing costs: CPU microseconds per command of the dispatcher and the ingress, with
 * OpenTelemetry off, on (exporting OTLP/HTTP protobuf, the default protocol, to a sink in this
 * process that answers 200 as a collector does) and on with 10% of traces sampled
 * (parentbased_traceidratio), in interleaved rounds on one Redis.
 *
 *   npm run build && node tools/bench/dist/bench/tracing-overhead.js [--rounds 3] [--rate 500] [--seconds 10] [--devices 200]
 *
 * Each round starts a fresh ingress, dispatcher and device fleet, sends `rate` x `seconds`
 * commands through the public batch API (the bench's open-loop producer), waits until the
 * devices ACKed them all, and divides the CPU time (user + system, /proc) both services used
 * from the first command to the last ACK by the number of commands. CPU time, not wall time:
 * the host is shared, so only same-run ratios and medians of interleaved rounds are quoted.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { ChildGroup, cpuSeconds, waitUntil } from './child-processes';
import { startBenchRedis } from './bench-stores';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { LoadGenerator } from './load-generator';
import { BENCH_SECRETS, startDispatcherProcess, startIngressProcess } from './service-processes';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

type Mode = 'off' | 'on' | 'sampled';

interface Round { mode: Mode; commands: number; dispatcherUs: number; ingressUs: number; spanBytes: number }

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const rate = arg('rate', 500);
  const seconds = arg('seconds', 10);
  const devices = arg('devices', 200);
  let received = 0;
  const sink = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => { received += chunk.length; });
    req.on('end', () => res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end());
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const group = new ChildGroup();
  const redis = await startBenchRedis(group, 'redis');
  const results: Round[] = [];
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  try {
    for (let r = 0; r < rounds; r += 1) {
      const modes: Mode[] = ['off', 'on', 'sampled'];
      for (const mode of [...modes.slice(r % 3), ...modes.slice(0, r % 3)]) {
        const prefix = `trace-bench-${r}-${mode}`;
        const stores = { backend: 'redis' as const, redisUrl: redis.url, prefix };
        const otel = mode === 'off' ? {} : {
          OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
          ...(mode === 'sampled' ? { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' } : {}),
        };
        const ingress = await startIngressProcess(group, `ingress-${prefix}`, stores, otel);
        const dispatcher = await startDispatcherProcess(group, `dispatcher-${prefix}`, stores, otel);
        const fleet = new FleetProcess(group, `fleet-${prefix}`, { host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: devices, idPrefix: 'TB' });
        await fleet.waitConnected();
        const producer = new LoadGenerator({ apiUrl: dispatcher.apiUrl, phyIds: Array.from({ length: devices }, (_, i) => fleetPhyId('TB', devices, i)) });
        const warm = await producer.openLoop(rate, 1);
        await waitUntil('warm-up ACKs', 60_000, async () => fleet.counters.acked >= warm.ids.length);
        const bytesBefore = received;
        const before = { d: cpuSeconds(dispatcher.pid), i: cpuSeconds(ingress.pid), acked: fleet.counters.acked };
        const produced = await producer.openLoop(rate, seconds);
        await waitUntil('every ACK', 120_000, async () => fleet.counters.acked >= before.acked + produced.ids.length);
        const n = produced.ids.length;
        results.push({
          mode,
          commands: n,
          dispatcherUs: ((cpuSeconds(dispatcher.pid) - before.d) * 1e6) / n,
          ingressUs: ((cpuSeconds(ingress.pid) - before.i) * 1e6) / n,
          spanBytes: received - bytesBefore,
        });
        const last = results[results.length - 1]!;
        process.stdout.write(`round ${r + 1} tracing ${mode}: ${n} commands, dispatcher ${last.dispatcherUs.toFixed(0)} us/cmd, ingress ${last.ingressUs.toFixed(0)} us/cmd, ${last.spanBytes} bytes to the collector\n`);
        await producer.close();
        await fleet.stop();
        await group.stop(`dispatcher-${prefix}`);
        await group.stop(`ingress-${prefix}`);
      }
    }
  } finally {
    await group.stopAll();
    await redis.stop().catch(() => undefined);
    sink.close();
  }
  const summary = (mode: Mode) => {
    const of = results.filter((x) => x.mode === mode);
    return { dispatcher: median(of.map((x) => x.dispatcherUs)), ingress: median(of.map((x) => x.ingressUs)), both: median(of.map((x) => x.dispatcherUs + x.ingressUs)) };
  };
  const off = summary('off');
  const on = summary('on');
  const sampled = summary('sampled');
  process.stdout.write(`\nload average at start: ${load}; ${rounds} interleaved rounds of ${rate}/s x ${seconds} s over ${devices} devices (Redis)\n`);
  process.stdout.write('median CPU us/command   dispatcher  ingress  both\n');
  process.stdout.write(`tracing off             ${off.dispatcher.toFixed(0).padStart(10)}  ${off.ingress.toFixed(0).padStart(7)}  ${off.both.toFixed(0).padStart(4)}\n`);
  process.stdout.write(`tracing on              ${on.dispatcher.toFixed(0).padStart(10)}  ${on.ingress.toFixed(0).padStart(7)}  ${on.both.toFixed(0).padStart(4)}\n`);
  process.stdout.write(`sampled 10%             ${sampled.dispatcher.toFixed(0).padStart(10)}  ${sampled.ingress.toFixed(0).padStart(7)}  ${sampled.both.toFixed(0).padStart(4)}\n`);
  process.stdout.write(`on / off                ${(on.dispatcher / off.dispatcher).toFixed(2).padStart(10)}  ${(on.ingress / off.ingress).toFixed(2).padStart(7)}  ${(on.both / off.both).toFixed(2).padStart(4)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`tracing-overhead: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
