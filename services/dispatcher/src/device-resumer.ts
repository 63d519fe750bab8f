import { toError, type CommandQueue, type Logger, type RouteRegistry } from '@outbound/core';
import type { DispatcherMetrics } from './metrics';
import { PeriodicTask } from './periodic-task';

/**
 * Unparks devices when they come online: at once on the registry's "device online" signal
 * (delivery resumes well within a second of the handshake), and every `checkMs` by comparing
 * the parked devices with the registry, so a lost signal delays a device by one check, not forever.
 */
export class DeviceResumer {
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly check: PeriodicTask;

  constructor(private readonly deps: { queue: CommandQueue; registry: RouteRegistry; logger: Logger; metrics: DispatcherMetrics; checkMs: number; onResume: () => void }) {
    this.check = new PeriodicTask('parked-device-check', deps.checkMs, async () => { await this.resumeConnected(); }, deps.logger);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.registry.onDeviceOnline((phyId) => {
      this.deps.queue.markDeviceOnline(phyId).then(
        () => {
          this.deps.metrics.devicesResumed.inc({ via: 'signal' });
          this.deps.onResume();
        },
        (error: unknown) => this.deps.logger.warn({ err: toError(error), phyId }, 'could not unpark a device; the periodic check will'),
      );
    });
    this.check.start();
  }

  /** Unparks every parked device that has a live route. Answers how many it unparked. */
  async resumeConnected(): Promise<number> {
    let cursor: string | undefined;
    let resumed = 0;
    do {
      const page = await this.deps.queue.listParkedDevices({ limit: 500, ...(cursor ? { cursor } : {}) });
      if (page.phyIds.length > 0) {
        const routes = await this.deps.registry.lookupMany(page.phyIds);
        for (const phyId of routes.keys()) {
          await this.deps.queue.markDeviceOnline(phyId);
          resumed += 1;
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (resumed > 0) {
      this.deps.metrics.devicesResumed.inc({ via: 'check' }, resumed);
      this.deps.logger.info({ resumed }, 'unparked connected devices found by the periodic check');
      this.deps.onResume();
    }
    return resumed;
  }

  async stop(): Promise<void> {
    await this.check.stop();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
  }
}
