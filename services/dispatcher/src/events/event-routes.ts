import type { Express, RequestHandler, Response } from 'express';
import { isOutboundError, OutboundError, parseOrThrow, validationError, toError, type EventLog, type LoggedEvent, type Logger } from '@outbound/core';
import type { DispatcherMetrics } from '../metrics';
import { eventView } from './event-view';
import { commandIdParams } from '../schemas/common';
import { eventCursorSchema, eventStreamQuery } from '../schemas/events';

export interface EventRoutesDeps {
  events: EventLog;
  /** Runs before each route (authentication with the role that reads commands). */
  guard: RequestHandler;
  metrics: DispatcherMetrics;
  logger: Logger;
  /** A comment line this often keeps idle streams open through proxies. */
  keepaliveMs: number;
  /** Ends every open stream (the server is stopping): clients resume elsewhere with Last-Event-ID. */
  closing: AbortSignal;
}

/** Events per store read of a stream. */
const STREAM_PAGE = 500;
/** Longest a stream's read waits in the store for a new event before asking again. */
const STREAM_WAIT_MS = 5_000;

/** GET /v1/commands/:id/events (a command's timeline) and GET /v1/events (the live stream, SSE). */
export function registerEventRoutes(app: Express, deps: EventRoutesDeps): void {
  const { events, metrics } = deps;

  app.get('/v1/commands/:id/events', deps.guard, async (req, res) => {
    const { id } = parseOrThrow(commandIdParams, req.params);
    const timeline = await events.commandEvents(id);
    if (!timeline) throw new OutboundError('COMMAND_NOT_FOUND', `no command ${id} (finished commands are kept for the retention period)`);
    res.json({ items: timeline.map(eventView) });
  });

  app.get('/v1/events', deps.guard, async (req, res) => {
    const query = parseOrThrow(eventStreamQuery, req.query, ['query']);
    const header = req.get('Last-Event-ID');
    const lastEventId = header === undefined ? undefined : parseOrThrow(eventCursorSchema, header, ['headers', 'last-event-id']);
    const types = query.types ? new Set<string>(query.types) : null;
    const wanted = (e: LoggedEvent) => (!types || types.has(e.type)) && (query.phyId === undefined || e.phyId === query.phyId);

    const stop = new AbortController();
    let after = lastEventId ?? query.after ?? (query.from === 'oldest' ? null : await events.eventsHead());
    // The first read answers before the stream starts, so a cursor the store cannot read is a 400, not a broken stream.
    let page = await events.readEvents({ after, limit: STREAM_PAGE, waitMs: 0 }).catch((error: unknown) => {
      if (!isOutboundError(error) || error.code !== 'VALIDATION_FAILED') throw error;
      const path = lastEventId === undefined ? 'query.after' : 'headers.last-event-id';
      throw validationError([{ path, message: 'is not a cursor of this event log: resume with an event id the stream sent' }]);
    });
    const onClose = () => stop.abort();
    res.once('close', onClose);
    if (deps.closing.aborted) stop.abort();
    deps.closing.addEventListener('abort', onClose, { once: true });

    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    metrics.eventStreams.inc();
    const keepalive = setInterval(() => void write(res, ': keepalive\n\n', stop.signal), deps.keepaliveMs);
    try {
      await write(res, 'retry: 1000\n\n', stop.signal);
      // Where the stream starts, as an event of its own (empty data): a client that loses the
      // connection before the first real event resumes from here instead of from a later head.
      if (after !== null) await write(res, `id: ${after}\nevent: position\ndata:\n\n`, stop.signal);
      for (;;) {
        for (const event of page.events) {
          if (stop.signal.aborted) return;
          if (wanted(event)) await write(res, `id: ${event.cursor}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`, stop.signal);
        }
        after = page.cursor;
        if (stop.signal.aborted) return;
        page = await events.readEvents({ after, limit: STREAM_PAGE, waitMs: STREAM_WAIT_MS, signal: stop.signal });
      }
    } catch (error) {
      // The client resumes with its Last-Event-ID: nothing is lost by ending the stream here.
      if (!stop.signal.aborted) deps.logger.warn({ err: toError(error) }, 'event stream ended on a store error');
    } finally {
      clearInterval(keepalive);
      res.off('close', onClose);
      deps.closing.removeEventListener('abort', onClose);
      metrics.eventStreams.dec();
      // The connection goes with the stream: a client resumes on a new one, and a stopping server
      // is not left waiting on a keep-alive socket the stream no longer uses.
      res.end(() => req.socket.destroySoon());
    }
  });
}

/** Writes and, when the socket's buffer is full, waits for it to drain (or the stream to end). */
function write(res: Response, chunk: string, stop: AbortSignal): Promise<void> {
  if (stop.aborted || res.writableEnded || res.destroyed) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      stop.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    stop.addEventListener('abort', done, { once: true });
  });
}
