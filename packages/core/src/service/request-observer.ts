import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
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

/**
 * The first middleware of each service's HTTP app: gives every request an id (the caller's
 * `X-Request-Id` when usable, else a UUID) echoed on every answer, errors included; binds it to
 * `req.log` so route handlers' lines carry `requestId`; writes one access-log line per request
 * (method, route pattern, status, duration, the API key's role, never the key) with success
 * lines sampled (LogSampler) and 4xx/5xx always written; and counts every request in the RED
 * metrics `outbound_http_requests_total` and `outbound_http_request_duration_seconds`.
 */
export function requestObserver(options: RequestObserverOptions): RequestHandler[] {
  const { registry } = options;
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

  const accessLine = (req: IncomingMessage, res: ServerResponse, durationMs: number) => {
    const locals = (res as unknown as { locals?: { role?: string; apiKeyName?: string } }).locals ?? {};
    return {
      method: req.method,
      route: routeOf(req),
      status: statusOf(res),
      durationMs,
      ...(locals.apiKeyName ? { apiKey: locals.apiKeyName } : {}),
      ...(locals.role ? { role: locals.role } : {}),
    };
  };

  const logging = pinoHttp({
    logger: options.logger,
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'requestId' },
    genReqId: (req, res) => {
      const id = requestIdFor(req.headers['x-request-id']);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, err) => {
      const status = statusOf(res);
      if (err || status >= 500) return 'error';
      if (status >= 400) return 'warn';
      if (sampler.keep()) return 'info';
      dropped.inc({ kind: 'access' });
      return 'silent';
    },
    customSuccessObject: (req, res, value: { responseTime: number }) => accessLine(req, res, value.responseTime),
    customErrorObject: (req, res, err, value: { responseTime: number }) => ({ ...accessLine(req, res, value.responseTime), err }),
    customSuccessMessage: () => 'request answered',
    customErrorMessage: () => 'request failed',
  });

  const metrics: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    let counted = false;
    const count = () => {
      if (counted) return;
      counted = true;
      const status = String(statusOf(res));
      const labels = { method: req.method, route: routeOf(req), status };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', count);
    res.once('close', count);
    next();
  };
  return [logging as unknown as RequestHandler, metrics];
}

/** The request's logger: its lines carry `requestId` (set by requestObserver; `fallback` before it ran). */
export function requestLogger(req: IncomingMessage, fallback: Logger): Logger {
  return (req as IncomingMessage & { log?: Logger }).log ?? fallback;
}
