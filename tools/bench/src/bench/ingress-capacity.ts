#!/usr/bin/env node
/**
 * Ingress capacity benchmark: how many simulated devices one ingress process holds, its RSS
 * per connection, and deliveries per second through the batch endpoint.
 *
 *   npm run build && node tools/bench/dist/bench/ingress-capacity.js --devices 10000 --seconds 15
 *
 * Starts its own redis-server (or uses REDIS_URL) and the built ingress
 * (services/ingress/dist/main.js) as a child process; the device fleet and the HTTP load run
 * in this process, so the ingress' RSS is its own. Prints one JSON summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { DeviceFleet } from '@outbound/cli';
import { freePort } from './child-processes';

interface Options { devices: number; seconds: number; batchSize: number; concurrency: number; payloadBytes: number }

function parseArgs(argv: string[]): Options {
  const options: Options = { devices: 10_000, seconds: 15, batchSize: 1_000, concurrency: 8, payloadBytes: 32 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Options;
    if (!(key in options)) throw new Error(`unknown option ${argv[i]} (known: --devices --seconds --batch-size --concurrency --payload-bytes)`);
    options[key] = Number(argv[i + 1]);
  }
  return options;
}


function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const children: ChildProcess[] = [];
  const cleanup = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  process.once('exit', cleanup);
  try {
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const port = await freePort();
      children.push(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
      redisUrl = `redis://127.0.0.1:${port}`;
    }
    const [tcpPort, httpPort] = [await freePort(), await freePort()];
    const token = 'bench-internal-token';
    const secret = 'bench-device-secret-0123456789abcdef';
    const main = join(__dirname, '..', '..', '..', '..', 'services', 'ingress', 'dist', 'main.js');
    // BENCH_INGRESS_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the ingress.
    const nodeArgs = (process.env.BENCH_INGRESS_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const ingress = spawn(process.execPath, [...nodeArgs, main], {
      env: {
        ...process.env, REDIS_URL: redisUrl, INGRESS_TCP_HOST: '127.0.0.1', INGRESS_TCP_PORT: String(tcpPort), INGRESS_HTTP_HOST: '127.0.0.1',
        INGRESS_HTTP_PORT: String(httpPort), DEVICE_AUTH_SECRETS: secret, INTERNAL_TOKEN: token, LOG_LEVEL: 'warn',
        // The whole simulated fleet connects from 127.0.0.1: no per-address handshake limit.
        INGRESS_HANDSHAKES_PER_IP: '0',
        REGISTRY_PREFIX: `bench-${Date.now()}`,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(ingress);
    const base = `http://127.0.0.1:${httpPort}`;
    await until('ingress ready', 20_000, async () => (await fetch(`${base}/readyz`)).status === 200);
    if (global.gc) global.gc();
    await new Promise((r) => setTimeout(r, 1_000));
    const rssBefore = rssBytes(ingress.pid!);

    const fleet = new DeviceFleet({ host: '127.0.0.1', port: tcpPort, secret, count: options.devices, reconnect: false, connectConcurrency: 200 });
    const connectStarted = Date.now();
    await fleet.start();
    await until('every device registered', 120_000, async () => (await metric(base, 'outbound_ingress_connected_devices')) >= options.devices);
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    await new Promise((r) => setTimeout(r, 2_000));
    const rssConnected = rssBytes(ingress.pid!);

    // Batch load: `concurrency` requests in flight, each `batchSize` deliveries over distinct devices.
    const pool = new Pool(base, { connections: options.concurrency });
    const payload = Buffer.alloc(options.payloadBytes, 0x61).toString('base64');
    const ids = fleet.devices.map((d) => d.phyId);
    let cursor = 0;
    let ok = 0;
    let other = 0;
    const latencies: number[] = [];
    const deadline = Date.now() + options.seconds * 1000;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const deliveries = Array.from({ length: options.batchSize }, () => {
          const phyId = ids[cursor++ % ids.length];
          return { phyId, id: randomUUID(), payload, ackTimeoutMs: 10_000 };
        });
        const t0 = Date.now();
        const response = await pool.request({
          method: 'POST', path: '/internal/v1/deliveries', body: JSON.stringify({ deliveries }),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        });
        const text = await response.body.text();
        latencies.push(Date.now() - t0);
        for (const line of text.split('\n')) {
          if (!line) continue;
          if (line.includes('"status":200')) ok++;
          else other++;
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const elapsed = (Date.now() - started) / 1000;
    const rssAfterLoad = rssBytes(ingress.pid!);
    latencies.sort((a, b) => a - b);
    await pool.close();

    console.log(JSON.stringify({
      devices: options.devices,
      connectedAtIngress: await metric(base, 'outbound_ingress_connected_devices'),
      connectSeconds,
      ingressRssMbBefore: +(rssBefore / 1048576).toFixed(1),
      ingressRssMbConnected: +(rssConnected / 1048576).toFixed(1),
      rssKbPerConnection: +((rssConnected - rssBefore) / options.devices / 1024).toFixed(2),
      batch: { size: options.batchSize, concurrency: options.concurrency, seconds: +elapsed.toFixed(1) },
      deliveriesOk: ok,
      deliveriesOther: other,
      deliveriesPerSecond: Math.round(ok / elapsed),
      batchLatencyMs: { p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)] },
      ingressRssMbAfterLoad: +(rssAfterLoad / 1048576).toFixed(1),
      simulator: fleet.summary(),
    }, null, 2));
    await fleet.stop();
    ingress.kill('SIGTERM');
    await new Promise((r) => ingress.once('exit', r));
  } finally {
    cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
