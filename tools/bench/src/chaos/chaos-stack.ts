import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgPool, createRedisClient } from '@outbound/core';
import { startBenchRedis, type BenchRedis, type BenchRedisOptions } from '../bench/bench-stores';
import { ChildGroup, REPO_ROOT } from '../bench/child-processes';
import {
  BENCH_SECRETS, startDispatcherProcess, startIngressProcess, type Backend, type RunningDispatcher, type RunningIngress, type StoreUrls,
} from '../bench/service-processes';
import type { DeviceLogLine, DeviceProcessOptions } from './device-process';
import type { ChaosPostgres } from './postgres-server';

/**
 * Short leases and backoffs so a case sees a crash recovered in seconds: a killed dispatcher's
 * commands come back after DISPATCHER_LEASE_MS, a dead ingress' routes lapse after the
 * registry heartbeat TTL.
 */
export const CHAOS_TIMING = {
  leaseMs: 4_000,
  leaseMarginMs: 1_000,
  ackTimeoutMs: 2_000,
} as const;

const DISPATCHER_ENV: NodeJS.ProcessEnv = {
  DISPATCHER_LEASE_MS: String(CHAOS_TIMING.leaseMs),
  DISPATCHER_LEASE_MARGIN_MS: String(CHAOS_TIMING.leaseMarginMs),
  DISPATCHER_REAP_INTERVAL_MS: '250',
  DISPATCHER_PARKED_CHECK_MS: '500',
  QUEUE_BACKOFF_BASE_MS: '200',
  QUEUE_BACKOFF_MAX_MS: '1000',
  DISPATCHER_SHUTDOWN_GRACE_MS: '2000',
};
/** Six processes starting at once on a busy 2-core host take far longer than the bench's 30 s. */
const READY_TIMEOUT_MS = 120_000;

const INGRESS_ENV: NodeJS.ProcessEnv = {
  REGISTRY_HEARTBEAT_INTERVAL_MS: '500',
  REGISTRY_HEARTBEAT_TTL_MS: '2000',
  INGRESS_SHUTDOWN_GRACE_MS: '2000',
};

export interface StackOptions {
  backend: Backend;
  dispatchers: number;
  ingresses: number;
  phyIds: string[];
  silentPhyIds?: string[];
  /** Extra redis-server arguments (the queue's Redis). */
  redisArgs?: string[];
  /** The suite's private PostgreSQL server (backend postgres): each case gets a fresh database on it. */
  postgres?: ChaosPostgres;
  /** Database name for this case (backend postgres). */
  database?: string;
}

/**
 * One case's processes: a private redis-server (the queue's on Redis, the unused one on
 * PostgreSQL keeps the services' configuration identical), ingress replicas, dispatchers and
 * the device process, each its own process. Every process the case did not kill itself and
 * that exits is recorded in `unexpectedExits`: a crash is a finding, never noise.
 */
export class ChaosStack {
  readonly group = new ChildGroup();
  /** API base URLs of the live dispatchers; the load driver sends round robin over this list. */
  readonly targets: string[] = [];
  readonly dispatchers = new Map<string, RunningDispatcher>();
  readonly ingresses = new Map<string, RunningIngress>();
  readonly unexpectedExits: string[] = [];
  readonly logFile: string;
  redis!: BenchRedis;
  stores!: StoreUrls;
  private readonly killed = new Set<string>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'outbound-chaos-'));
  private device: ChildProcess | undefined;
  private deviceStats = { connected: 0, received: 0 };
  private counter = 0;

  constructor(readonly options: StackOptions) {
    this.logFile = join(this.dir, 'device-log.ndjson');
  }

  async start(): Promise<void> {
    const { backend, postgres, database } = this.options;
    this.redis = await startBenchRedis(this.group, 'redis', this.redisOptions());
    this.watch('redis');
    this.stores = { backend, redisUrl: this.redis.url, prefix: 'chaos' };
    if (backend === 'postgres') {
      if (!postgres || !database) throw new Error('chaos: a postgres case needs the suite\'s server and a database name');
      const admin = createPgPool({ url: postgres.adminUrl, max: 1, applicationName: 'outbound-chaos' });
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        await admin.query(`CREATE DATABASE "${database}"`);
      } finally {
        await admin.end();
      }
      this.stores.pgUrl = postgres.urlFor(database);
    }
    // In parallel: a process start takes seconds on a busy 2-core host.
    await Promise.all(Array.from({ length: this.options.ingresses }, () => this.startIngress()));
    await Promise.all(Array.from({ length: this.options.dispatchers }, () => this.startDispatcher()));
    await this.startDevices();
  }

  private redisOptions(): BenchRedisOptions {
    // DEBUG SLEEP stalls the server on purpose (stallStore); Redis 7 refuses DEBUG unless enabled.
    return { extraArgs: ['--enable-debug-command', 'local', ...(this.options.redisArgs ?? [])] };
  }

  /**
   * Holds every queue operation for `ms` without stopping any process: DEBUG SLEEP on Redis,
   * an exclusive lock on the commands table on PostgreSQL. A process stopped during the stall
   * is left with store calls in flight (a claim, an enqueue) whose replies arrive while it
   * is stopped, which is the moment a stop past the lease has to get right.
   */
  async stallStore(ms: number): Promise<void> {
    if (this.options.backend === 'redis') {
      const client = createRedisClient({ url: this.redis.url });
      client.on('error', () => undefined);
      try {
        await client.call('DEBUG', 'SLEEP', String(ms / 1000));
      } finally {
        client.disconnect();
      }
      return;
    }
    const pool = createPgPool({ url: this.stores.pgUrl!, max: 1, applicationName: 'outbound-chaos' });
    pool.on('error', () => undefined);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`LOCK TABLE "${this.stores.prefix}".commands IN ACCESS EXCLUSIVE MODE`);
      await client.query('SELECT pg_sleep($1)', [ms / 1000]);
      await client.query('COMMIT');
    } finally {
      client.release();
      await pool.end();
    }
  }

  /** Records an exit of `name` that the case did not cause. */
  private watch(name: string): void {
    this.group.get(name)?.once('exit', (code, signal) => {
      if (!this.killed.has(name)) this.unexpectedExits.push(`${name} exited (${signal ?? `code ${code}`})`);
    });
  }

  async startDispatcher(): Promise<string> {
    const name = `dispatcher-${++this.counter}`;
    const running = await startDispatcherProcess(this.group, name, this.stores, DISPATCHER_ENV, [], READY_TIMEOUT_MS);
    this.watch(name);
    this.dispatchers.set(name, running);
    this.targets.push(running.apiUrl);
    return name;
  }

  async startIngress(): Promise<string> {
    const name = `ingress-${++this.counter}`;
    const running = await startIngressProcess(this.group, name, this.stores, INGRESS_ENV, [], READY_TIMEOUT_MS);
    this.watch(name);
    this.ingresses.set(name, running);
    this.device?.send({ type: 'ports', ports: this.ingressPorts() });
    return name;
  }

  ingressPorts(): number[] {
    return [...this.ingresses.values()].map((i) => i.tcpPort);
  }

  /** kill -9 of a dispatcher or ingress; it leaves the target list at once (as a load balancer's health check would soon after). */
  async kill(name: string): Promise<void> {
    this.killed.add(name);
    const child = this.group.get(name);
    const dispatcher = this.dispatchers.get(name);
    if (dispatcher) {
      this.dispatchers.delete(name);
      const at = this.targets.indexOf(dispatcher.apiUrl);
      if (at >= 0) this.targets.splice(at, 1);
    }
    if (this.ingresses.delete(name)) this.device?.send({ type: 'ports', ports: this.ingressPorts() });
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP / SIGCONT of a process the case started. */
  signal(name: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.group.get(name)?.kill(signal);
  }

  /** kill -9 of the queue's redis-server, and a restart on the same port and AOF directory. */
  async killRedis(): Promise<void> {
    this.killed.add('redis');
    const child = this.group.get('redis')!;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async restartRedis(): Promise<void> {
    this.killed.delete('redis');
    this.redis = await startBenchRedis(this.group, 'redis', { ...this.redisOptions(), port: this.redis.port, dir: this.redis.dir });
    this.watch('redis');
  }

  /** Dispatchers that exited on their own are started again (as an orchestrator would), so the queue can drain. */
  async replaceExitedDispatchers(): Promise<number> {
    let replaced = 0;
    for (const [name, running] of [...this.dispatchers]) {
      const child = this.group.get(name);
      if (child && child.exitCode === null && child.signalCode === null) continue;
      this.killed.add(name);
      this.dispatchers.delete(name);
      const at = this.targets.indexOf(running.apiUrl);
      if (at >= 0) this.targets.splice(at, 1);
      await this.startDispatcher();
      replaced += 1;
    }
    return replaced;
  }

  private async startDevices(): Promise<void> {
    const options: DeviceProcessOptions = {
      host: '127.0.0.1', ports: this.ingressPorts(), secret: BENCH_SECRETS.deviceSecret,
      phyIds: this.options.phyIds, silentPhyIds: this.options.silentPhyIds ?? [], logFile: this.logFile,
      ackLatencyMs: { min: 2, max: 30 },
    };
    const script = join(REPO_ROOT, 'tools', 'bench', 'dist', 'chaos', 'device-process.js');
    if (!existsSync(script)) throw new Error(`chaos: ${script} is missing: run npm run build first`);
    this.device = this.group.spawnNode('devices', script, [JSON.stringify(options)]);
    this.watch('devices');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('chaos: not every device connected within 30 s')), 30_000);
      this.device!.on('message', (message: { type: string; connected?: number; received?: number }) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        }
        if (message.type === 'stats') this.deviceStats = { connected: message.connected ?? 0, received: message.received ?? 0 };
      });
      this.device!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`chaos: the device process exited (code ${code}) before every device connected`));
      });
    });
  }

  /** Devices connected right now (the device process reports every 200 ms). */
  get connectedDevices(): number {
    return this.deviceStats.connected;
  }

  /** Every COMMAND the device process logged so far, in the order received. */
  readLog(): DeviceLogLine[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as DeviceLogLine);
  }

  /** A live dispatcher's API URL (for look-ups after the fault). */
  apiUrl(): string {
    const url = this.targets[0];
    if (!url) throw new Error('chaos: no dispatcher is running');
    return url;
  }

  /** Stops everything; `keepLog` leaves the device log (and its directory) for a failed case to be read. */
  async close(keepLog = false): Promise<void> {
    for (const name of [...this.dispatchers.keys(), ...this.ingresses.keys(), 'devices', 'redis']) this.killed.add(name);
    // A stopped process cannot handle SIGTERM; continue them all first.
    for (const name of this.dispatchers.keys()) this.signal(name, 'SIGCONT');
    this.signal('redis', 'SIGCONT');
    if (this.device?.connected) this.device.send({ type: 'stop' });
    await this.group.stopAll(5_000);
    await this.redis?.stop().catch(() => undefined);
    if (this.options.postgres && this.options.database) {
      const admin = createPgPool({ url: this.options.postgres.adminUrl, max: 1, applicationName: 'outbound-chaos' });
      await admin.query(`DROP DATABASE IF EXISTS "${this.options.database}" WITH (FORCE)`).catch(() => undefined);
      await admin.end().catch(() => undefined);
    }
    if (!keepLog) rmSync(this.dir, { recursive: true, force: true });
  }
}
