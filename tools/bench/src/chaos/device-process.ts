/**
 * Child-process entry of the fault suite's devices: the independent witness of what reached
 * the wire. Each device speaks protocol v1 over its own TCP connection (the simulator's
 * SimulatedDevice) and every COMMAND frame it receives, duplicates included, is appended to
 * a log file as one JSON line before anything else happens, with a synchronous write, so the
 * log holds everything received even if the parent dies. The parent never sees a command
 * except through this file.
 *
 * A device whose connection closes reconnects after a short random delay to the next ingress
 * in its list (the replica it was on may be dead: that is how devices move between replicas).
 *
 *   ← argv[2]: DeviceProcessOptions as JSON
 *   → {type:'ready'}                       once every device got WELCOME
 *   → {type:'stats', connected, received}  every 200 ms
 *   ← {type:'ports', ports}                the ingress replicas to rotate over from now on
 *   ← {type:'stop'}                        closes every device and exits
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { SimulatedDevice, type ReceivedCommand } from '@outbound/cli';
import { parseChaosPayload } from './chaos-payload';

export interface DeviceProcessOptions {
  host: string;
  /** TCP ports of the ingress replicas; device i starts on ports[i % n]. */
  ports: number[];
  secret: string;
  phyIds: string[];
  /** Devices that receive commands but never send an ACK. */
  silentPhyIds: string[];
  /** Where every received COMMAND is logged (NDJSON, appended). */
  logFile: string;
  /** ACK delay range of the answering devices. */
  ackLatencyMs: { min: number; max: number };
}

/** One line of the device log. */
export interface DeviceLogLine {
  /** Receive time, epoch ms. */
  at: number;
  phyId: string;
  id: string;
  /** The enqueue sequence number and priority the load driver put in the payload (-1: not ours). */
  seq: number;
  priority: number;
  /** The ingress TCP port the COMMAND came through. */
  port: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as DeviceProcessOptions;
const log = openSync(options.logFile, 'a');
let ports = options.ports;
let stopping = false;
let received = 0;
const devices = new Map<string, SimulatedDevice>();
const silent = new Set(options.silentPhyIds);

function send(message: object): void {
  if (process.connected) process.send?.(message);
}

/** Connects `phyId` to ports[portIndex % n]; on any close, tries the next replica after 100–400 ms. */
function connect(phyId: string, portIndex: number): Promise<void> {
  const port = ports[portIndex % ports.length]!;
  const device = new SimulatedDevice({
    host: options.host, port, phyId, secret: options.secret, reconnect: false,
    ackLatencyMs: options.ackLatencyMs, noAckRate: silent.has(phyId) ? 1 : 0,
  });
  devices.set(phyId, device);
  device.on('command', (command: ReceivedCommand) => {
    received += 1;
    const { seq, priority } = parseChaosPayload(command.payload);
    const line: DeviceLogLine = { at: Date.now(), phyId, id: command.id, seq, priority, port };
    writeSync(log, `${JSON.stringify(line)}\n`);
  });
  device.once('close', () => {
    if (stopping) return;
    const timer = setTimeout(() => void connect(phyId, portIndex + 1).catch(() => undefined), 100 + Math.random() * 300);
    timer.unref();
  });
  return device.connect();
}

async function main(): Promise<void> {
  process.on('message', (message: { type?: string; ports?: number[] }) => {
    if (message?.type === 'ports' && message.ports?.length) ports = message.ports;
    if (message?.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop()); // the parent is gone: never outlive it
  const timer = setInterval(() => {
    let connected = 0;
    for (const device of devices.values()) if (device.connected) connected += 1;
    send({ type: 'stats', connected, received });
  }, 200);
  timer.unref();
  // A device whose first connect fails is already retrying on the next replica (its close handler).
  await Promise.allSettled(options.phyIds.map((phyId, i) => connect(phyId, i)));
  const waitAll = setInterval(() => {
    if ([...devices.values()].every((d) => d.connected)) {
      clearInterval(waitAll);
      send({ type: 'ready' });
    }
  }, 20);
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([...devices.values()].map((d) => d.close()));
  closeSync(log);
  process.exit(0);
}

void main();
