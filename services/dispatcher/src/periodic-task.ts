import { toError, type Logger } from '@outbound/core';

/**
 * Runs `tick` every `intervalMs` (never two at once), backing off up to 10x after errors.
 * States: idle → running → stopped; stop() waits for a tick in progress.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private failures = 0;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.schedule(this.intervalMs);
  }

  /** Runs a tick now (tests, and after a signal that makes one worthwhile). */
  async runNow(): Promise<void> {
    if (this.current) return this.current;
    this.current = this.tick()
      .then(() => { this.failures = 0; })
      .catch((error: unknown) => {
        this.failures += 1;
        this.logger.warn({ err: toError(error), task: this.name, failures: this.failures }, 'periodic task failed');
      })
      .finally(() => { this.current = null; });
    return this.current;
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(async () => {
      await this.runNow();
      if (this.state === 'running') this.schedule(this.intervalMs * Math.min(10, 2 ** this.failures));
    }, delay);
  }
}
