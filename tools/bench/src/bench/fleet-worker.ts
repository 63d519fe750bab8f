/**
 * Child-process entry of a simulated device fleet (bench only). Runs `DeviceFleet` in its own
 * process so the devices' CPU is not counted against the ingress or the load generator, and
 * reports to the parent over IPC:
 *   → {type:'connected', devices, seconds}        once every device got WELCOME
 *   → {type:'stats', at, acked, received, duplicates, applied, ...}   every statsIntervalMs in which a counter moved
 *   → {type:'failed', message}                    when the fleet could not connect
 *   ← {type:'stop'}                               closes every device and exits
 * Options arrive as JSON in argv[2] (FleetWorkerOptions).
 */
import net from 'node:net'; // the module object itself (a namespace import would be a read-only copy)
import { DeviceFleet, type DeviceBehaviour } from '@outbound/cli';

export interface FleetWorkerOptions {
  host: string;
  port: number;
  secret: string;
  count: number;
  idPrefix: string;
  /** Source address for every device socket (127.0.0.x), so many fleets do not share one ephemeral port range. */
  localAddress?: string;
  connectConcurrency?: number;
  /** How often counters are sent (default 100 ms; summing them walks every device). */
  statsIntervalMs?: number;
  /** How the devices answer (default: ACK OK at once). */
  behaviour?: DeviceBehaviour;
  /** Drop this share of the connections every intervalMs; the devices reconnect (the soak run). */
  churn?: { intervalMs: number; fraction: number };
  /** Command ids each device remembers to spot re-deliveries (default 10,000); a long run keeps it small so the fleet's memory levels off. */
  historyLimit?: number;
}

/**
 * SimulatedDevice has no localAddress option, so this process (and only this one: it runs
 * nothing but the fleet) gives every outgoing socket its source address here. Each fleet
 * process gets its own 127.0.0.x, i.e. its own 28k-port ephemeral range.
 */
function bindSourceAddress(localAddress: string): void {
  const original = net.connect;
  const patched = (...args: unknown[]): net.Socket => {
    if (typeof args[0] === 'object' && args[0] !== null) args[0] = { ...(args[0] as object), localAddress };
    return (original as (...a: unknown[]) => net.Socket)(...args);
  };
  (net as { connect: unknown }).connect = patched;
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as FleetWorkerOptions;
  if (options.localAddress) bindSourceAddress(options.localAddress);
  const send = (message: object): void => {
    if (process.connected) process.send?.(message);
  };
  const fleet = new DeviceFleet({
    host: options.host, port: options.port, secret: options.secret, count: options.count, idPrefix: options.idPrefix,
    ...options.behaviour,
    // Churn needs reconnecting devices; without it a lost device is a failed run.
    ...(options.churn ? { churn: options.churn } : { reconnect: false }),
    connectConcurrency: options.connectConcurrency ?? 200, historyLimit: options.historyLimit ?? 10_000,
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    await fleet.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop()); // the parent is gone: never outlive it
  process.on('SIGTERM', () => void stop());
  // A report only when a counter moved: an idle fleet sends nothing (each report is a write to
  // the parent and wakes it), and the parent's copy stays right.
  let last = '';
  const report = (): void => {
    const s = fleet.counters();
    const key = `${s.acked} ${s.received} ${s.duplicates} ${s.applied} ${s.connected} ${s.rejected} ${s.busy} ${s.churned} ${s.connects}`;
    if (key === last) return;
    last = key;
    send({ type: 'stats', at: Date.now(), acked: s.acked, received: s.received, duplicates: s.duplicates, applied: s.applied, connected: s.connected, rejected: s.rejected, busy: s.busy, churned: s.churned, connects: s.connects });
  };
  const timer = setInterval(report, options.statsIntervalMs ?? 100);
  const started = process.hrtime.bigint();
  try {
    await fleet.start();
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error), connected: fleet.summary().connected });
    return;
  }
  send({ type: 'connected', devices: options.count, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
}

void main();
