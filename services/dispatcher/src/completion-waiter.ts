import { TERMINAL_STATUSES, type StoredCommand } from '@outbound/core';

/**
 * Holds `?waitMs` long-polls. A command finished by this process wakes its waiters at once
 * (the dispatch loop calls `notify`); one finished by another dispatcher is seen by re-reading
 * the store on a backoff from 20 ms to 250 ms, so a waiter costs at most ~4 reads per second.
 */
export class CompletionWaiter {
  /**
   * The waits sleeping now, by command id. The dispatch loop notifies every command it finishes,
   * and almost none has a waiter: with none at all, notify returns before even looking the id up
   * (an EventEmitter keyed by id cost a string-keyed property lookup per finished command).
   */
  private readonly sleeping = new Map<string, Set<() => void>>();
  private readonly closing = new AbortController();

  notify(id: string): void {
    if (this.sleeping.size === 0) return;
    const wakes = this.sleeping.get(id);
    if (!wakes) return;
    for (const wake of [...wakes]) wake();
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
        const wakes = this.sleeping.get(id);
        if (wakes?.delete(done) && wakes.size === 0) this.sleeping.delete(id);
        signal?.removeEventListener('abort', done);
        this.closing.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const wakes = this.sleeping.get(id);
      if (wakes) wakes.add(done);
      else this.sleeping.set(id, new Set([done]));
      signal?.addEventListener('abort', done);
      this.closing.signal.addEventListener('abort', done);
    });
  }
}
