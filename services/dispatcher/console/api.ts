/** The admin API as the console calls it: the key from sessionStorage as a Bearer token on every request. */
import type { EventType, OutboundEvent } from '@outbound/core/queue';

const KEY_ITEM = 'outbound.console.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_ITEM);
  else sessionStorage.setItem(KEY_ITEM, key);
}

/** An answer other than 2xx: the API's problem (code, message) when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the API refuses the key (401): the app goes back to the login form. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(listener: () => void): void {
  onUnauthorized = listener;
}

function headersFor(key: string, extra?: HeadersInit): Headers {
  const headers = new Headers(extra);
  headers.set('Authorization', `Bearer ${key}`);
  return headers;
}

async function problemOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `the API answered ${res.status}`;
  try {
    // RFC 9457 problem details (docs/errors.md); a 400's detail names each field.
    const body = (await res.json()) as { code?: string; detail?: string };
    code = body.code ?? code;
    message = body.detail ?? message;
  } catch {
    // not a problem document: keep the status line
  }
  return new ApiError(res.status, code, message);
}

/** Calls the API with the stored key (or `key`, when checking one at login). Throws ApiError on a non-2xx answer. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; key?: string; signal?: AbortSignal } = {}): Promise<T> {
  const key = init.key ?? storedKey() ?? '';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: headersFor(key, init.body === undefined ? undefined : { 'Content-Type': 'application/json' }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (!res.ok) {
    const error = await problemOf(res);
    if (res.status === 401 && init.key === undefined) onUnauthorized();
    throw error;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

// The shapes the API answers, from the packages that define them (types only: nothing of them is bundled).
export type { CommandView as Command } from '@outbound/core/command';
export type { EventType, OutboundEvent } from '@outbound/core/queue';

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export type StreamState = 'connecting' | 'live' | 'retrying' | 'unavailable';

/**
 * Follows GET /v1/events with fetch and a stream reader (EventSource cannot send the key):
 * parses the SSE frames, resumes after the last event id when the connection drops, and stops
 * when `signal` aborts. A 4xx other than 429 is final (`unavailable`): the stream is not offered.
 */
export async function followEvents(
  params: { types?: EventType[]; phyId?: string },
  onEvent: (event: OutboundEvent) => void,
  onState: (state: StreamState, detail?: string) => void,
  signal: AbortSignal,
): Promise<void> {
  let lastId: string | null = null;
  let failures = 0;
  while (!signal.aborted) {
    onState(failures === 0 ? 'connecting' : 'retrying');
    try {
      const headers = headersFor(storedKey() ?? '', { Accept: 'text/event-stream' });
      if (lastId !== null) headers.set('Last-Event-ID', lastId);
      const res = await fetch(`/v1/events${query({ types: params.types?.join(','), phyId: params.phyId })}`, { headers, signal });
      if (!res.ok || !res.body) {
        const error = await problemOf(res);
        if (res.status === 401) onUnauthorized();
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          onState('unavailable', `${error.status} ${error.message}`);
          return;
        }
        throw error;
      }
      onState('live');
      failures = 0;
      await readFrames(res.body, signal, (frame) => {
        if (frame.id !== undefined) lastId = frame.id;
        if (frame.data === undefined) return;
        try {
          onEvent(JSON.parse(frame.data) as OutboundEvent);
        } catch {
          // a frame that is not an event: skip it
        }
      });
    } catch (error) {
      if (signal.aborted) return;
      onState('retrying', error instanceof Error ? error.message : String(error));
    }
    failures += 1;
    await pause(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
  }
}

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** Splits a text/event-stream body into frames (blank-line separated; `:` lines are comments). */
async function readFrames(body: ReadableStream<Uint8Array>, signal: AbortSignal, onFrame: (frame: Frame) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const stop = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', stop, { once: true });
  let buffer = '';
  let frame: Frame = {};
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (frame.data !== undefined || frame.id !== undefined) onFrame(frame);
          frame = {};
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
        else if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
      }
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
