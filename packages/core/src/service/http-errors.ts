import type { ErrorRequestHandler, RequestHandler } from 'express';
import { OutboundError, toError } from '../errors';
import type { Logger } from './logger';

/** 404 in the project's error shape for any route not matched. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(new OutboundError('NOT_FOUND', `no route for ${req.method} ${req.path}`).toJSON());
};

/**
 * Turns anything thrown into `{error: {code, message, details?}}`: OutboundError as coded,
 * body-parser's malformed JSON as 400 and oversize bodies as 413, the rest as 500 (logged).
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
    else if (e?.status && e.status >= 400 && e.status < 500) error = new OutboundError('VALIDATION_FAILED', e.message ?? 'bad request');
    else {
      logger.error({ err: toError(err) }, 'unhandled error in request');
      error = new OutboundError('INTERNAL');
    }
    const retryAfter = retryAfterSeconds(error);
    if (retryAfter !== null) res.set('Retry-After', String(retryAfter));
    res.status(error.status).json(error.toJSON());
  };
}

/**
 * Seconds a caller should wait before retrying, for answers that say "try again later"
 * (every 429 and 503 carries one); null for the rest. A full store drains in seconds, not at once.
 */
export function retryAfterSeconds(error: OutboundError): number | null {
  if (error.code === 'STORE_FULL') return 5;
  return error.status === 503 || error.status === 429 ? 1 : null;
}
