import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { OutboundError, PROBLEM_CONTENT_TYPE, toError } from '../errors';
import type { Logger } from './logger';

/** Retry-After when an error names none: 429 and 503 always carry one, so a client never guesses. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/** A full store drains in seconds, not at once. */
const STORE_FULL_RETRY_AFTER_SECONDS = 5;

/**
 * Seconds a caller should wait before retrying, for answers that say "try again later"
 * (every 429 and 503 carries one); null for the rest.
 */
export function retryAfterSeconds(error: OutboundError): number | null {
  if (error.status !== 429 && error.status !== 503) return null;
  return error.retryAfterSeconds ?? (error.code === 'STORE_FULL' ? STORE_FULL_RETRY_AFTER_SECONDS : DEFAULT_RETRY_AFTER_SECONDS);
}

/**
 * Answers an error as RFC 9457 problem details (`application/problem+json`, see
 * OutboundError.toProblem), with Retry-After on every 429 and 503.
 */
export function sendProblem(res: Response, error: OutboundError): void {
  const retryAfter = retryAfterSeconds(error);
  if (retryAfter !== null) res.set('Retry-After', String(retryAfter));
  res.status(error.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(error.toProblem()));
}

/** The parts of express' router this module reads (the `router` package's Layer and Route). */
interface RouterLayer {
  path?: string;
  match(path: string): boolean;
  route?: { _methods(): string[] };
  handle?: { stack?: RouterLayer[] };
}

/** Methods the app's routes take for `path`, nested routers included (HEAD comes with GET). */
function allowedMethods(stack: RouterLayer[] | undefined, path: string, into = new Set<string>()): Set<string> {
  for (const layer of stack ?? []) {
    if (!layer.match(path)) continue;
    if (layer.route) for (const method of layer.route._methods()) into.add(method.toUpperCase());
    else if (layer.handle?.stack) allowedMethods(layer.handle.stack, path.slice((layer.path ?? '').length) || '/', into);
  }
  return into;
}

/**
 * The last route: 405 METHOD_NOT_ALLOWED with an Allow header when the path is known under other
 * methods, else 404 NOT_FOUND, both as problem details.
 */
export const notFoundHandler: RequestHandler = (req, res) => {
  const stack = (req.app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack;
  const allowed = [...allowedMethods(stack, req.path)].sort();
  if (allowed.length > 0) {
    res.set('Allow', allowed.join(', '));
    sendProblem(res, new OutboundError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; allowed: ${allowed.join(', ')}`));
    return;
  }
  sendProblem(res, new OutboundError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
};

/**
 * 415 UNSUPPORTED_MEDIA_TYPE for a request body that is not JSON. Mount before the JSON parser:
 * without it, a body sent as text/plain or a form reaches the routes as "no body" and answers
 * a misleading field error.
 */
export const requireJsonBody: RequestHandler = (req: Request, _res, next) => {
  // req.is: null when there is no body, false when there is one of another type.
  if (req.is(['application/json', 'application/*+json']) === false) {
    next(new OutboundError('UNSUPPORTED_MEDIA_TYPE', `send the body as application/json (got ${req.get('content-type') ?? 'no Content-Type'})`));
    return;
  }
  next();
};

/**
 * Turns anything thrown into problem details: OutboundError as coded, body-parser's malformed
 * JSON as 400, an unsupported charset as 415 and oversize bodies as 413, the rest as 500 (logged).
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    let error: OutboundError;
    const e = err as { type?: string; status?: number; message?: string };
    if (err instanceof OutboundError) error = err;
    else if (e?.type === 'entity.parse.failed') error = new OutboundError('VALIDATION_FAILED', `request body is not valid JSON: ${e.message}`, { details: [{ path: '(body)', message: 'invalid JSON' }] });
    else if (e?.type === 'entity.too.large') error = new OutboundError('PAYLOAD_TOO_LARGE', 'request body exceeds the configured limit');
    else if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') error = new OutboundError('UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported body encoding');
    else if (e?.status && e.status >= 400 && e.status < 500) error = new OutboundError('VALIDATION_FAILED', e.message ?? 'bad request');
    else {
      logger.error({ err: toError(err) }, 'unhandled error in request');
      error = new OutboundError('INTERNAL');
    }
    sendProblem(res, error);
  };
}

