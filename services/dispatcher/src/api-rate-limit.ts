import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { RateLimiterRes, RLWrapperTimeouts, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { closeIfBodyUnread, OutboundError, toError, type Logger } from '@outbound/core';
import { callerOf } from './api-auth';

/** Makes a limiter of `points` requests per `durationSeconds` in the store every dispatcher shares. */
export type RateLimiterFactory = (options: { keyPrefix: string; points: number; durationSeconds: number }) => RateLimiterAbstract;

export interface ApiRateLimitOptions {
  factory: RateLimiterFactory;
  /** Requests per window for each API key (0: unlimited). */
  limits: ReadonlyMap<string, number>;
  windowSeconds: number;
  /**
   * Longest wait for the store's count. Past it the request goes ahead: while the store is down
   * the limit must not hold each request for the store's own command timeout before its 503.
   */
  storeWaitMs: number;
  /** Called with the caller's role on each 429. */
  onLimited: (role: string) => void;
  logger: Logger;
}

/** Store keys name a hash of the API key, so the store never holds a key a caller could present. */
function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * Per-API-key request limit, counted in the queue's store (Redis or PostgreSQL) so every
 * dispatcher shares one budget per key. Runs after authentication and before the body is
 * read: a throttled caller's body costs nothing. Over the limit: 429 RATE_LIMITED with
 * Retry-After (whole seconds, at least 1).
 *
 * If the store does not answer within `storeWaitMs`, the request goes ahead: the limit protects the
 * service, and a store outage already answers 503 to whatever needs the store.
 */
export function apiRateLimit(options: ApiRateLimitOptions): RequestHandler {
  // One limiter per distinct limit: rate-limiter-flexible fixes the points per instance.
  const limiters = new Map<number, RLWrapperTimeouts>();
  const limiterFor = (points: number) => {
    let limiter = limiters.get(points);
    if (!limiter) {
      const inner = options.factory({ keyPrefix: `api-rate:${points}`, points, durationSeconds: options.windowSeconds });
      limiter = new RLWrapperTimeouts({ limiter: inner, timeoutMs: options.storeWaitMs });
      limiters.set(points, limiter);
    }
    return limiter;
  };
  let lastWarnedAt = 0;
  // Hashed once per configured key (only keys that passed authentication get here).
  const keyIds = new Map<string, string>();
  const idOf = (key: string) => {
    let id = keyIds.get(key);
    if (id === undefined) {
      id = keyId(key);
      keyIds.set(key, id);
    }
    return id;
  };

  return (req, res, next) => {
    const { key, role } = callerOf(res);
    const points = options.limits.get(key) ?? 0;
    if (points === 0) {
      next();
      return;
    }
    limiterFor(points).consume(idOf(key)).then(
      () => next(),
      (rejection: unknown) => {
        if (rejection instanceof RateLimiterRes) {
          options.onLimited(role);
          res.set('Retry-After', String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1_000))));
          closeIfBodyUnread(req, res);
          next(new OutboundError('RATE_LIMITED', `this API key may make ${points} requests per ${options.windowSeconds} s; retry after the Retry-After delay`));
          return;
        }
        if (Date.now() - lastWarnedAt > 10_000) {
          lastWarnedAt = Date.now();
          options.logger.warn({ err: toError(rejection) }, 'rate-limit store unreachable: requests go ahead unlimited');
        }
        next();
      },
    );
  };
}
