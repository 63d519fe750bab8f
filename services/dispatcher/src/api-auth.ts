import type { RequestHandler, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { closeIfBodyUnread, OutboundError } from '@outbound/core';
import type { ApiRole } from './config';

const ROLE_RANK: Record<ApiRole, number> = { send: 1, admin: 2 };

/** Who `authenticate` found: the configured key (rate limits count per key) and its role. */
export interface Caller {
  key: string;
  role: ApiRole;
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Finds a key's role, comparing in constant time so response timing does not leak keys. */
export function roleOf(keys: ReadonlyMap<string, ApiRole>, presented: string): ApiRole | undefined {
  let found: ApiRole | undefined;
  for (const [key, role] of keys) if (sameKey(key, presented)) found = role;
  return found;
}

/** The caller `authenticate` admitted for this request. */
export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

/**
 * Requires `Authorization: Bearer <key>` naming a configured key, and answers 401 otherwise.
 * It runs before any body parser: an unauthenticated caller's body is never read, and the
 * connection closes after the 401 so Node does not read it either.
 */
export function authenticate(keys: ReadonlyMap<string, ApiRole>): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const presented = match?.[1];
    const role = presented === undefined ? undefined : roleOf(keys, presented);
    if (!role) {
      res.set('WWW-Authenticate', 'Bearer');
      closeIfBodyUnread(req, res);
      next(new OutboundError('UNAUTHORIZED'));
      return;
    }
    res.locals.caller = { key: presented!, role } satisfies Caller;
    res.locals.role = role; // the access log names the role, never the key
    next();
  };
}

/** 403 unless the authenticated key's role is at least `needed` (`admin` includes everything `send` may do). */
export function requireRole(needed: ApiRole): RequestHandler {
  return (_req, res, next) => {
    const { role } = callerOf(res);
    if (ROLE_RANK[role] < ROLE_RANK[needed]) {
      next(new OutboundError('FORBIDDEN', `this route needs the "${needed}" role; the key has "${role}"`));
      return;
    }
    next();
  };
}
