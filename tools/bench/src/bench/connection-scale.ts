import { startBenchRedis } from './bench-stores';
import { ChildGroup, openFilesLimit, rssBytes, sleep, waitUntil } from './child-processes';
import { FleetProcess } from './fleet-process';
import { BENCH_SECRETS, readMetric, startIngressProcess } from './service-processes';

export interface ConnectionScaleResult {
  requestedDevices: number;
  /** Devices attempted: the request, capped by the ingress' open-files limit. */
  attemptedDevices: number;
  /** Devices the ingress reported connected (outbound_ingress_connected_devices). */
  heldDevices: number;
  /** Why fewer than requested were attempted, if so. */
  limitedBy?: string;
  openFilesLimit: { soft: number; hard: number };
  fleetProcesses: number;
  connectSeconds: number;
  handshakesPerSec: number;
  rssBaselineMb: number;
  rssConnectedMb: number;
  rssKbPerConnection: number;
  error?: string;
}

/** Devices per fleet process: below one process' open-files limit, and below one source address' 28k ephemeral ports. */
const PER_FLEET = 10_000;
/** File descriptors the ingress needs besides device sockets (Redis, HTTP, listeners, stdio, epoll). */
const FD_RESERVE = 200;

/**
 * How many idle simulated devices one ingress process holds, its RSS per connection above its
 * baseline, and handshakes per second (HELLO → WELCOME with HMAC auth and the route registry
 * write). Fleets run in their own processes, each on its own source address 127.0.0.(2+k).
 */
export async function runConnectionScale(options: { devices: number; log: (line: string) => void }): Promise<ConnectionScaleResult> {
  const limit = openFilesLimit();
  let attempted = Math.min(options.devices, limit.soft - FD_RESERVE);
  const result: ConnectionScaleResult = {
    requestedDevices: options.devices, attemptedDevices: attempted, heldDevices: 0, openFilesLimit: limit,
    fleetProcesses: Math.ceil(attempted / PER_FLEET), connectSeconds: 0, handshakesPerSec: 0, rssBaselineMb: 0, rssConnectedMb: 0, rssKbPerConnection: 0,
  };
  if (attempted < options.devices) {
    result.limitedBy = `RLIMIT_NOFILE: one process may open ${limit.soft} files (hard limit ${limit.hard}); raising it needs CAP_SYS_RESOURCE, which this host does not grant`;
  }
  const group = new ChildGroup();
  const fleets: FleetProcess[] = [];
  let redis: Awaited<ReturnType<typeof startBenchRedis>> | undefined;
  try {
    redis = await startBenchRedis(group, 'scale-redis');
    const ingress = await startIngressProcess(group, 'scale-ingress', { backend: 'redis', redisUrl: redis.url, prefix: 'scale' }, {
      INGRESS_MAX_CONNECTIONS: String(attempted + 1_000),
    });
    // The ingress keeps a share of its file limit back from devices (docs/ingress.md) and says
    // the limit it enforces: attempt no more, or the last devices would only be told BUSY.
    const inForce = await readMetric(ingress.httpUrl, 'outbound_ingress_max_connections');
    if (inForce > 0 && inForce < attempted) {
      attempted = inForce;
      result.attemptedDevices = attempted;
      result.fleetProcesses = Math.ceil(attempted / PER_FLEET);
      result.limitedBy = `RLIMIT_NOFILE: one process may open ${limit.soft} files (hard limit ${limit.hard}), of which the ingress keeps a reserve and holds at most ${inForce} devices; raising it needs CAP_SYS_RESOURCE, which this host does not grant`;
    }
    await sleep(1_000);
    const baseline = rssBytes(ingress.pid);
    const started = Date.now();
    for (let k = 0; k < result.fleetProcesses; k++) {
      const count = Math.min(PER_FLEET, attempted - k * PER_FLEET);
      fleets.push(new FleetProcess(group, `scale-fleet-${k}`, {
        host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count, idPrefix: `F${k}D`,
        localAddress: `127.0.0.${2 + k}`, connectConcurrency: 250, statsIntervalMs: 1_000,
      }));
    }
    await Promise.all(fleets.map((f) => f.waitConnected()));
    result.connectSeconds = (Date.now() - started) / 1000;
    result.heldDevices = await waitUntil('the ingress to count every device', 30_000, async () => {
      const held = await readMetric(ingress.httpUrl, 'outbound_ingress_connected_devices');
      return held >= attempted ? held : false;
    }).catch(() => readMetric(ingress.httpUrl, 'outbound_ingress_connected_devices'));
    result.handshakesPerSec = Math.round(attempted / result.connectSeconds);
    await sleep(2_000);
    const connected = rssBytes(ingress.pid);
    result.rssBaselineMb = Math.round(baseline / 1048576);
    result.rssConnectedMb = Math.round(connected / 1048576);
    result.rssKbPerConnection = Math.round(((connected - baseline) / Math.max(1, result.heldDevices) / 1024) * 100) / 100;
    options.log(`  connection scale: ${result.heldDevices} devices held, ${result.handshakesPerSec} handshakes/s, ${result.rssKbPerConnection} KB RSS each`);
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    options.log(`  connection scale: FAILED: ${result.error}`);
  } finally {
    await Promise.all(fleets.map((f) => f.stop()));
    await group.stopAll(20_000);
    await redis?.stop();
  }
  return result;
}
