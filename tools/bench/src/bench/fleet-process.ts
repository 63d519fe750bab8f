import { once } from 'node:events';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { ChildGroup } from './child-processes';
import type { FleetWorkerOptions } from './fleet-worker';

/** The latest counters a fleet worker reported. */
export interface FleetCounters {
  at: number;
  acked: number;
  received: number;
  duplicates: number;
  applied: number;
  connected: number;
  /** Sent by every worker; optional so a report from an older worker still parses. */
  rejected?: number;
  busy?: number;
  /** Connections dropped by churn, and handshakes completed (reconnects included). */
  churned?: number;
  connects?: number;
}

/** phyId of device `i` (0-based) of a fleet with `count` devices, as DeviceFleet names them. */
export function fleetPhyId(idPrefix: string, count: number, i: number): string {
  return `${idPrefix}${String(i + 1).padStart(Math.max(5, String(count).length), '0')}`;
}

/** The parent's handle on one fleet-worker process. */
export class FleetProcess {
  counters: FleetCounters = { at: 0, acked: 0, received: 0, duplicates: 0, applied: 0, connected: 0 };
  private readonly child: ChildProcess;
  private readonly connected: Promise<{ seconds: number }>;

  constructor(private readonly group: ChildGroup, readonly name: string, readonly options: FleetWorkerOptions, nodeArgs: string[] = []) {
    this.child = group.spawnNode(name, join(__dirname, 'fleet-worker.js'), [JSON.stringify(options)], {}, nodeArgs);
    this.connected = new Promise((resolve, reject) => {
      this.child.on('message', (message: { type: string; seconds?: number; message?: string } & FleetCounters) => {
        if (message.type === 'stats') this.counters = message;
        else if (message.type === 'connected') resolve({ seconds: message.seconds ?? 0 });
        else if (message.type === 'failed') reject(new Error(`${name}: ${message.message} (${message.connected} connected)`));
      });
      this.child.once('exit', (code) => reject(new Error(`${name} exited (code ${code}) before every device connected`)));
    });
    this.connected.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves when every device got WELCOME; answers the fleet's own connect time. */
  waitConnected(): Promise<{ seconds: number }> {
    return this.connected;
  }

  /** Asks the worker to close its devices and waits for it to exit (killed after `graceMs`). */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    if (this.child.connected) this.child.send({ type: 'stop' });
    const timer = setTimeout(() => void this.group.stop(this.name, 1_000), graceMs);
    await exited;
    clearTimeout(timer);
    await this.group.stop(this.name);
  }
}
