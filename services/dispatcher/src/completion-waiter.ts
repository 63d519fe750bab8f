import { EventEmitter } from 'node:events';
import { TERMINAL_STATUSES, type StoredCommand } from '@outbound/core';

/**
 * Holds `?waitMs` long-polls. A command finished by this process wakes its waiters at once
 * (the dispatch loop calls `notify`); one finished by another dispatcher is seen by re-reading
 * the store on a backoff from 20 ms to 250 ms, so a waiter costs at most ~4 reads per second.
 */
export class CompletionWaiter {
  private readonly events = new EventEmitter();
  private readonly closing = new AbortController();

  constructor() {
    this.events.setMaxListeners(0);
  }

  notify(id: string): void {
    this.events.emit(id);
  }

  /** Ends every wait now (shutdown): each answers the state it last read. */
  close(): void {
    this.closing.abort();
  }

  /**
   * Reads the command until it is terminal, it is gone, `waitMs` passes, or `signal` aborts
   * (the caller hung up). Answers the last state read.
   */
  async waitForTerminal(id: string, waitMs: number, read: () => Promise<StoredCommand | null>, signal?: AbortSignal): Promise<StoredCommand | null> {
    const deadline = Date.now() + waitMs;
    let interval = 20;
    for (;;) {
      const command = await read();
      if (!command || TERMINAL_STATUSES.has(command.status)) return command;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted || this.closing.signal.aborted) return command;
      await this.sleepOrNotified(id, Math.min(interval, left), signal);
      interval = Math.min(250, Math.round(interval * 1.5));
    }
  }

  private sleepOrNotified(id: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(id, done);
        signal?.removeEventListener('abort', done);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.events.on(id, done);
      signal?.addEventListener('abort', done);
      this.closing.signal.addEventListener('abort', done);
    });
  }
}
