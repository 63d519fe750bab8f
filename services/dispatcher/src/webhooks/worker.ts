import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { toError, type EventLog, type LoggedEvent, type Logger } from '@outbound/core';
import type { DispatcherMetrics } from '../metrics';
import { PeriodicTask } from '../periodic-task';
import type { WebhookSender } from './sender';
import type { StoredAttempt, WebhookRecord, WebhookStore } from './store';

export interface WebhookWorkerOptions {
  /** How often the webhook list is read for webhooks free to take (and ones deleted or disabled). */
  pollMs: number;
  /** A webhook's lease; renewed every third of it, taken over by another dispatcher once it lapses. */
  leaseMs: number;
  /** First retry delay of a failed POST; doubles per retry, with jitter, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** An event still failing this long after its first POST is given up (recorded, and delivery moves on). */
  giveUpMs: number;
  /** POSTs of one webhook in flight at once. */
  window: number;
  /** Events read from the log per page. */
  pageSize: number;
}

type Finish = 'delivered' | 'gave_up' | 'gone' | 'stopped';

/**
 * Delivers the event log to webhooks, at least once per matching event. Every dispatcher runs
 * one; each webhook is worked by whichever holds its lease. A webhook's runner reads the log
 * after the webhook's saved cursor, POSTs the page's matching events (`window` at a time, each
 * retried with backoff until 2xx or given up), and only then saves the cursor past the page: a
 * crash before that sends the page again from the start, to the new lease holder.
 */
export class WebhookWorker {
  private readonly owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  private readonly runners = new Map<string, { stop: AbortController; done: Promise<void> }>();
  private readonly poller: PeriodicTask;
  private stopped = false;

  constructor(
    private readonly deps: { events: EventLog; store: WebhookStore; sender: WebhookSender; metrics: DispatcherMetrics; logger: Logger },
    private readonly options: WebhookWorkerOptions,
  ) {
    this.poller = new PeriodicTask('webhook-poll', options.pollMs, () => this.poll(), deps.logger);
  }

  start(): void {
    this.poller.start();
    void this.poller.runNow();
  }

  /** Webhooks this process delivers now. */
  active(): string[] {
    return [...this.runners.keys()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.poller.stop();
    for (const runner of this.runners.values()) runner.stop.abort();
    await Promise.all([...this.runners.values()].map((r) => r.done));
  }

  private async poll(): Promise<void> {
    const hooks = await this.deps.store.list();
    const live = new Map(hooks.filter((h) => h.enabled).map((h) => [h.id, h]));
    for (const [id, runner] of this.runners) if (!live.has(id)) runner.stop.abort();
    for (const hook of live.values()) {
      if (this.stopped || this.runners.has(hook.id)) continue;
      if (!(await this.deps.store.lease(hook.id, this.owner, this.options.leaseMs))) continue;
      const stop = new AbortController();
      const done = this.run(hook, stop)
        .catch((error: unknown) => {
          // A read cut short by stop() is no error.
          if (!stop.signal.aborted) this.deps.logger.warn({ err: toError(error), webhook: hook.id }, 'webhook delivery stopped on an error; it starts again at the next poll');
        })
        .finally(async () => {
          this.runners.delete(hook.id);
          this.deps.metrics.webhookLag.remove({ webhook: hook.id });
          await this.deps.store.releaseLease(hook.id, this.owner).catch(() => undefined);
        });
      this.runners.set(hook.id, { stop, done });
    }
  }

  /** Delivers one webhook while this process holds its lease. */
  private async run(hook: WebhookRecord, stop: AbortController): Promise<void> {
    const { events, store, logger } = this.deps;
    const signal = stop.signal;
    // The time of the oldest event of the page being delivered (null: caught up). The lag gauge
    // is set from it at each page and at each lease renewal, so it grows while a page is held up.
    let unfinishedSince: number | null = null;
    const showLag = () => this.deps.metrics.webhookLag.set({ webhook: hook.id }, unfinishedSince === null ? 0 : Math.max(0, Date.now() - unfinishedSince) / 1000);
    const renew = setInterval(() => {
      showLag();
      store.lease(hook.id, this.owner, this.options.leaseMs).then(
        (held) => { if (!held) stop.abort(); },
        // A store that does not answer: stop before the lease may have lapsed and another taken it.
        (error: unknown) => { logger.warn({ err: toError(error), webhook: hook.id }, 'webhook lease renewal failed: stopping its delivery here'); stop.abort(); },
      );
    }, Math.max(1, Math.floor(this.options.leaseMs / 3)));
    try {
      let cursor = await store.cursor(hook.id);
      logger.info({ webhook: hook.id, url: hook.url }, 'delivering webhook');
      while (cursor !== null && !signal.aborted) {
        const page = await events.readEvents({ after: cursor, limit: this.options.pageSize, waitMs: 1_000, signal });
        if (signal.aborted) return;
        const matching = page.events.filter((e) => matches(hook, e));
        unfinishedSince = matching.length > 0 ? Math.min(...matching.map((e) => e.time)) : null;
        showLag();
        const finishes = await this.deliverAll(hook, matching, signal);
        unfinishedSince = null;
        if (finishes.includes('stopped')) return;
        if (finishes.includes('gone')) {
          await store.disable(hook.id, 'the receiver answered 410 Gone');
          logger.warn({ webhook: hook.id, url: hook.url }, 'webhook receiver answered 410 Gone: webhook disabled');
          return;
        }
        if (page.cursor === cursor) continue;
        // Refused: the lease was lost (another dispatcher goes on from the saved cursor) or the webhook deleted.
        if (!(await store.saveCursor(hook.id, this.owner, page.cursor))) return;
        cursor = page.cursor;
      }
    } finally {
      clearInterval(renew);
    }
  }

  /** POSTs events `window` at a time; answers each one's finish. */
  private async deliverAll(hook: WebhookRecord, events: LoggedEvent[], signal: AbortSignal): Promise<Finish[]> {
    const finishes: Finish[] = [];
    let next = 0;
    const lane = async () => {
      while (next < events.length && !signal.aborted) {
        const event = events[next++]!;
        const finish = await this.deliver(hook, event, signal);
        finishes.push(finish);
        // 410: the receiver wants nothing more; the rest of the page stays unsent.
        if (finish === 'gone') next = events.length;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.window, events.length) }, lane));
    if (signal.aborted) finishes.push('stopped');
    return finishes;
  }

  /** One event to one webhook: POSTs until 2xx, 410, give-up time or stop. */
  private async deliver(hook: WebhookRecord, event: LoggedEvent, signal: AbortSignal): Promise<Finish> {
    const { sender, store, metrics, logger } = this.deps;
    const firstAt = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      const at = Date.now();
      const result = await sender.post(hook.url, hook.secret, event, signal);
      if (signal.aborted && result.statusCode === null) return 'stopped';
      const record: StoredAttempt = { eventId: event.id, attempt, at, statusCode: result.statusCode, error: result.error, durationMs: result.durationMs };
      store.recordAttempts(hook.id, [record]).catch((error: unknown) => logger.warn({ err: toError(error), webhook: hook.id }, 'recording a webhook attempt failed'));
      const status = result.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        metrics.webhookDeliveries.inc({ outcome: 'delivered' });
        return 'delivered';
      }
      if (status === 410) {
        metrics.webhookDeliveries.inc({ outcome: 'gone' });
        return 'gone';
      }
      const left = firstAt + this.options.giveUpMs - Date.now();
      if (left <= 0) {
        metrics.webhookDeliveries.inc({ outcome: 'gave_up' });
        logger.warn({ webhook: hook.id, eventId: event.id, attempts: attempt, statusCode: result.statusCode, error: result.error }, 'webhook event given up after its retries');
        return 'gave_up';
      }
      metrics.webhookDeliveries.inc({ outcome: 'retry' });
      if (!(await pause(Math.min(left, retryDelay(attempt, this.options)), signal))) return 'stopped';
    }
  }
}

/** Exponential backoff with full jitter: between half and all of base·2^(attempt-1), capped. */
export function retryDelay(attempt: number, options: Pick<WebhookWorkerOptions, 'retryBaseMs' | 'retryMaxMs'>): number {
  const ceiling = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** Math.min(30, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function matches(hook: WebhookRecord, event: LoggedEvent): boolean {
  return hook.events.includes(event.type) && (hook.phyIdPrefix === null || event.phyId.startsWith(hook.phyIdPrefix));
}

/** Waits `ms`; false when `signal` ended the wait first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(timer); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
