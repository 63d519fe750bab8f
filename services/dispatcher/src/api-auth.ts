import type { RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { OutboundError } from '@outbound/core';
import type { ApiRole } from './config';

const ROLE_RANK: Record<ApiRole, number> = { send: 1, admin: 2 };

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

/**
 * Requires `Authorization: Bearer <key>` naming a key whose role is at least `needed`
 * (`admin` includes everything `send` may do). 401 without a valid key, 403 with a weaker one.
 */
export function requireRole(keys: ReadonlyMap<string, ApiRole>, needed: ApiRole): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const role = match ? roleOf(keys, match[1]!) : undefined;
    if (!role) {
      res.set('WWW-Authenticate', 'Bearer');
      next(new OutboundError('UNAUTHORIZED'));
      return;
    }
    if (ROLE_RANK[role] < ROLE_RANK[needed]) {
      next(new OutboundError('FORBIDDEN', `this route needs the "${needed}" role; the key has "${role}"`));
      return;
    }
    res.locals.role = role;
    next();
  };
}
