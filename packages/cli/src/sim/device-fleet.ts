import { once, setMaxListeners } from 'node:events';
import { zeroStats } from './command-responder';
import { LatencyRecorder, type LatencySummary } from './latency-recorder';
import { SimulatedDevice, type DeviceStats, type SimulatedDeviceOptions } from './simulated-device';

export interface FleetOptions extends Omit<SimulatedDeviceOptions, 'phyId'> {
  count: number;
  /** phyIds are the prefix and a 5-digit number: SIM00001, SIM00002, ... (default 'SIM'). */
  idPrefix?: string;
  /** Every intervalMs, drop the connection of this fraction of the connected devices (they reconnect). */
  churn?: { intervalMs: number; fraction: number };
  /** Handshakes in flight at once during start() (default 200), so a big fleet does not SYN-flood. */
  connectConcurrency?: number;
}

export interface FleetSummary extends DeviceStats {
  devices: number;
  connected: number;
  /** Drops caused by churn. */
  churned: number;
  /** COMMAND received to ACK sent, in ms. */
  latencyMs: LatencySummary;
}

/** Fleet default: reconnect, since churn and GOAWAY are meaningless without it. */
const DEFAULT_RECONNECT = { minMs: 200, maxMs: 5000 };

/**
 * N simulated devices with shared behaviour, optional disconnect churn, and one latency
 * histogram for the whole fleet.
 */
export class DeviceFleet {
  readonly devices: SimulatedDevice[];
  private readonly latency = new LatencyRecorder();
  private readonly options: FleetOptions;
  private churnTimer: NodeJS.Timeout | undefined;
  private churned = 0;
  /** Every device's counters, summed as they count. */
  private readonly totals: DeviceStats = zeroStats();
  /** Connections between their WELCOME and their close. */
  private welcomedNow = 0;
  private stopping = new AbortController();

  constructor(options: FleetOptions) {
    if (!Number.isInteger(options.count) || options.count < 1) throw new RangeError(`count must be a positive integer, got ${options.count}`);
    if (options.churn && !(options.churn.intervalMs > 0 && options.churn.fraction >= 0 && options.churn.fraction <= 1)) {
      throw new RangeError('churn needs intervalMs > 0 and fraction in 0..1');
    }
    this.options = options;
    const { count, idPrefix = 'SIM', churn: _churn, connectConcurrency: _cc, ...deviceOptions } = options;
    const digits = Math.max(5, String(count).length);
    this.devices = Array.from({ length: count }, (_, i) => {
      const device = new SimulatedDevice({
        ...deviceOptions,
        reconnect: options.reconnect === undefined ? DEFAULT_RECONNECT : options.reconnect,
        phyId: `${idPrefix}${String(i + 1).padStart(digits, '0')}`,
        totals: this.totals,
      });
      device.on('ack', (ack: { latencyMs: number }) => this.latency.recordMs(ack.latencyMs));
      device.on('welcome', () => (this.welcomedNow += 1));
      device.on('close', (wasWelcomed: boolean) => {
        if (wasWelcomed) this.welcomedNow -= 1;
      });
      return device;
    });
  }

  /**
   * Connects every device, `connectConcurrency` at a time; resolves when all got WELCOME.
   * With reconnect enabled a failed first attempt waits for a later WELCOME; without it the
   * first failure rejects.
   */
  async start(): Promise<void> {
    this.stopping = new AbortController();
    const { signal } = this.stopping;
    setMaxListeners(0, signal); // one waiter per connecting device, connectConcurrency at a time
    const queue = [...this.devices];
    const worker = async (): Promise<void> => {
      for (let device = queue.shift(); device && !signal.aborted; device = queue.shift()) {
        // Rejects with an AbortError when stop() comes first, so start() never hangs.
        const welcome = once(device, 'welcome', { signal });
        welcome.catch(() => undefined);
        try {
          await device.connect();
        } catch (error) {
          if (this.options.reconnect === false || signal.aborted) throw error;
          await welcome;
        }
      }
      if (signal.aborted) throw new Error('fleet stopped before every device connected');
    };
    const workers = Math.min(this.options.connectConcurrency ?? 200, this.devices.length);
    await Promise.all(Array.from({ length: workers }, worker));
    this.startChurn();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.churnTimer);
    this.churnTimer = undefined;
    await Promise.all(this.devices.map((device) => device.close()));
  }

  summary(): FleetSummary {
    let connected = 0;
    for (const device of this.devices) if (device.connected) connected += 1;
    return { ...this.counters(), connected, latencyMs: this.latency.summary() };
  }

  /**
   * summary() without the latency percentiles, read without walking the devices (the bench's
   * fleet process reports it every 100 ms): sums kept as the devices count, and `connected`
   * the connections between WELCOME and their close (a socket being destroyed still counts
   * until its close, where summary() already leaves it out).
   */
  counters(): Omit<FleetSummary, 'latencyMs'> {
    return { devices: this.devices.length, connected: this.welcomedNow, churned: this.churned, ...this.totals };
  }

  private startChurn(): void {
    const churn = this.options.churn;
    if (!churn || churn.fraction === 0) return;
    this.churnTimer = setInterval(() => {
      const connected = this.devices.filter((device) => device.connected);
      const drops = Math.round(connected.length * churn.fraction);
      // Partial Fisher-Yates: the first `drops` entries become a uniform random sample.
      for (let i = 0; i < drops; i++) {
        const j = i + Math.floor(Math.random() * (connected.length - i));
        [connected[i], connected[j]] = [connected[j], connected[i]];
        connected[i].dropConnection();
        this.churned += 1;
      }
    }, churn.intervalMs);
  }
}
