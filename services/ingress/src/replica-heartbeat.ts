import type { RouteRegistry } from '@outbound/core/registry';
import type { Logger } from '@outbound/core/service';

/**
 * Keeps this replica's liveness in the route registry: one beat every `intervalMs`, lapsing
 * after `ttlMs` (its routes then read offline to dispatchers). After a failed beat it tries
 * again at the next interval; a TTL of several intervals rides out a short Redis outage.
 */
export class ReplicaHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly registry: RouteRegistry,
    private readonly replica: { replicaId: string; address: string },
    private readonly intervalMs: number,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** Beats once (so the replica is live before any device registers), then on the interval. */
  async start(): Promise<void> {
    this.running = true;
    await this.registry.heartbeat(this.replica, this.ttlMs);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.registry.heartbeat(this.replica, this.ttlMs).then(
        () => this.schedule(),
        (error: unknown) => {
          this.logger.warn({ err: error, replicaId: this.replica.replicaId }, 'replica heartbeat failed; retrying at the next interval');
          this.schedule();
        },
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
