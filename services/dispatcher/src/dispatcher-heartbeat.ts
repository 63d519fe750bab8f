import { toError, type Logger, type RouteRegistry } from '@outbound/core';
import { PeriodicTask } from './periodic-task';

/**
 * Keeps this dispatcher's liveness record (GET /v1/cluster) in the store: one beat at start,
 * then every `intervalMs`, lapsing after `ttlMs` (a killed dispatcher drops out then); a clean
 * stop removes the record at once.
 */
export class DispatcherHeartbeat {
  private readonly task: PeriodicTask;
  private readonly startedAt = Date.now();

  constructor(
    private readonly deps: { registry: RouteRegistry; logger: Logger },
    private readonly options: { id: string; intervalMs: number; ttlMs: number },
  ) {
    this.task = new PeriodicTask('dispatcher-heartbeat', options.intervalMs, () => this.beat(), deps.logger);
  }

  private beat(): Promise<void> {
    return this.deps.registry.dispatcherHeartbeat({ id: this.options.id, startedAt: this.startedAt }, this.options.ttlMs);
  }

  /** Beats once (a failure is logged, and the next interval tries again), then on the interval. */
  async start(): Promise<void> {
    await this.task.runNow();
    this.task.start();
  }

  async stop(): Promise<void> {
    await this.task.stop();
    await this.deps.registry.removeDispatcher(this.options.id).catch((error: unknown) => {
      this.deps.logger.warn({ err: toError(error), dispatcherId: this.options.id }, 'removing the liveness record failed; it lapses after its TTL');
    });
  }
}
