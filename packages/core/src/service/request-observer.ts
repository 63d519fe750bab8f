import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import { LogSampler, type LogSamplingConfig } from './log-sampler';
import type { Logger } from './logger';

/** The header a caller may set to name its request; every answer carries it back. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * A caller's request id is taken as is when it is short and plain (it goes into log lines and a
 * response header); anything else is replaced by a fresh UUID rather than refused, so a client
 * sending odd ids still gets its answer.
 */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id the caller sent, when usable; otherwise a new UUID. */
export function requestIdFor(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && REQUEST_ID_PATTERN.test(value) ? value : randomUUID();
}

/**
 * The route pattern that answered (`/v1/commands/:id`), never the raw URL, so log fields and
 * metric labels stay few; `unmatched` for 404s.
 */
export function routeOf(req: IncomingMessage): string {
  const r = req as Request;
  const path = r.route?.path as unknown;
  return typeof path === 'string' ? `${r.baseUrl ?? ''}${path}` : 'unmatched';
}

/**
 * The status to report: a caller that hung up before the answer was written is 499 (as nginx
 * logs it), not the 200 the response object still holds.
 */
function statusOf(res: ServerResponse): number {
  return res.writableFinished ? res.statusCode : 499;
}

/** Counts success log lines left out by sampling, by kind (`access`, `transition`). */
export function logLinesDroppedCounter(registry: Registry): Counter<'kind'> {
  const name = 'outbound_log_lines_dropped_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'kind'>;
  return new Counter({ name, help: 'Success log lines left out by sampling (errors, 4xx and 5xx are never left out), by kind', labelNames: ['kind'], registers: [registry] });
}

export interface RequestObserverOptions {
  logger: Logger;
  registry: Registry;
  sampling?: LogSamplingConfig;
}

/** What requestObserver keeps on each request. */
interface ObservedRequest extends IncomingMessage {
  /** The request id (the caller's `X-Request-Id` when usable). */
  id?: string;
  /** The request's child logger, made by requestLogger on first use. */
  log?: Logger;
}

/**
 * The first middleware of each service's HTTP app: gives every request an id (the caller's
 * `X-Request-Id` when usable, else a UUID) echoed on every answer, errors included; lets route
 * handlers log lines carrying `requestId` (requestLogger); writes one access-log line per request
 * (method, route pattern, status, duration, the API key's role, never the key) with success
 * lines sampled (LogSampler) and 4xx/5xx always written; and counts every request in the RED
 * metrics `outbound_http_requests_total` and `outbound_http_request_duration_seconds`.
 *
 * Its cost per request is a clock read, one header and two listeners: no child logger is made
 * for a request nothing logs about, and no access line is built when its level is off.
 */
export function requestObserver(options: RequestObserverOptions): RequestHandler {
  const { registry, logger } = options;
  const sampler = new LogSampler(options.sampling);
  const dropped = logLinesDroppedCounter(registry);
  const requests = new Counter({
    name: 'outbound_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'outbound_http_request_duration_seconds',
    help: 'HTTP request duration from the first byte read to the last written, by method, route pattern and status (long polls included)',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  const accessLine = (req: ObservedRequest, res: ServerResponse, route: string, status: number, durationMs: number) => {
    const locals = (res as unknown as { locals?: { role?: string; apiKeyName?: string } }).locals ?? {};
    return {
      requestId: req.id,
      method: req.method,
      route,
      status,
      durationMs,
      ...(locals.apiKeyName ? { apiKey: locals.apiKeyName } : {}),
      ...(locals.role ? { role: locals.role } : {}),
    };
  };

  /** Counts the request and writes its access line (sampled when it succeeded). */
  const observe = (req: ObservedRequest, res: ServerResponse, started: number) => {
    const elapsedMs = performance.now() - started;
    const status = statusOf(res);
    const route = routeOf(req);
    const labels = { method: req.method, route, status: String(status) };
    requests.inc(labels);
    duration.observe(labels, elapsedMs / 1_000);
    // Whole milliseconds, as the access log has always written them.
    const durationMs = Math.round(elapsedMs);
    if (status >= 500) {
      if (logger.isLevelEnabled('error')) logger.error({ ...accessLine(req, res, route, status, durationMs), err: new Error(`failed with status code ${status}`) }, 'request failed');
    } else if (status >= 400) {
      if (logger.isLevelEnabled('warn')) logger.warn(accessLine(req, res, route, status, durationMs), 'request answered');
    } else if (!sampler.keep()) {
      dropped.inc({ kind: 'access' });
    } else if (logger.isLevelEnabled('info')) {
      logger.info(accessLine(req, res, route, status, durationMs), 'request answered');
    }
  };

  return (req, res, next) => {
    const started = performance.now();
    const observed = req as ObservedRequest;
    const id = requestIdFor(req.headers['x-request-id']);
    observed.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    // The first of finish (answer written) and close (answer written, or the caller hung up).
    let done = false;
    const complete = () => {
      if (done) return;
      done = true;
      observe(observed, res, started);
    };
    res.on('finish', complete);
    res.on('close', complete);
    next();
  };
}

/**
 * The request's logger: a child of `logger` whose lines carry the `requestId` requestObserver
 * gave the request, made on first use and kept on the request (`logger` itself when no
 * requestObserver ran).
 */
export function requestLogger(req: IncomingMessage, logger: Logger): Logger {
  const observed = req as ObservedRequest;
  if (observed.log) return observed.log;
  if (observed.id === undefined) return logger;
  observed.log = logger.child({ requestId: observed.id });
  return observed.log;
}
