import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { components } from './generated/openapi';

/** One transition of a command, or a device coming online or going offline. */
export type OutboundEvent = components['schemas']['Event'];
export type EventType = OutboundEvent['type'];

/** Every event type, for filters (`types`). */
export const EVENT_TYPES = [
  'command.queued', 'command.delivered', 'command.retrying', 'command.acked', 'command.rejected', 'command.dead', 'command.expired', 'command.cancelled',
  'device.online', 'device.offline',
] as const satisfies readonly EventType[];

/** An event from the stream, with the cursor to resume right after it. */
export interface StreamedEvent extends OutboundEvent {
  cursor: string;
}

export interface EventsOptions {
  /** Only these types (default: every type). */
  types?: readonly EventType[];
  /** Only this device's events. */
  phyId?: string;
  /**
   * Where to start: after this cursor (a StreamedEvent's `cursor`), `'oldest'` for the oldest
   * event retained, or (default) the head of the log: only events from now on.
   */
  after?: string | 'oldest';
  /** Wait this long before reconnecting after the stream breaks (default 1,000 ms). */
  reconnectDelayMs?: number;
  /** Stops the stream: the iterator ends. Breaking out of `for await` stops it too. */
  signal?: AbortSignal;
}

/** Opens one connection of the stream: `after` is the cursor to resume after (null: start where the options say). */
export type OpenStream = (after: string | null, signal: AbortSignal) => Promise<Response>;

/** Answers false when the delay ran out, true when `signal` aborted first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal.addEventListener('abort', onAbort);
  });
}

/**
 * The event stream as an async iterator. When the connection breaks it reconnects and resumes
 * right after the last event it handed out (`Last-Event-ID`), so none is missed or repeated
 * within the server's retention. `refuse` turns a non-retryable answer (4xx) into the error thrown.
 */
export async function* followEvents(open: OpenStream, options: EventsOptions, refuse: (response: Response) => Promise<Error>): AsyncGenerator<StreamedEvent> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener('abort', stop);
  if (options.signal?.aborted) stop();
  const delay = options.reconnectDelayMs ?? 1_000;
  let after: string | null = options.after === undefined || options.after === 'oldest' ? null : options.after;
  try {
    while (!controller.signal.aborted) {
      let response: Response;
      try {
        response = await open(after, controller.signal);
      } catch {
        if (await pause(delay, controller.signal)) return;
        continue;
      }
      if (!response.ok || !response.body) {
        // The request itself is wrong (bad filter, key): reconnecting cannot help.
        if (response.status >= 400 && response.status < 500 && response.status !== 429) throw await refuse(response);
        await response.body?.cancel().catch(() => undefined);
        if (await pause(delay, controller.signal)) return;
        continue;
      }
      const queue: EventSourceMessage[] = [];
      const parser = createParser({ onEvent: (message) => queue.push(message) });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
          while (queue.length > 0) {
            const message = queue.shift()!;
            if (!message.id) continue;
            after = message.id;
            if (message.event === 'position') continue; // where the stream starts: no event
            yield { ...(JSON.parse(message.data) as OutboundEvent), cursor: message.id };
          }
        }
      } catch {
        // The connection broke: reconnect below.
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      if (await pause(delay, controller.signal)) return;
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
    stop();
  }
}
