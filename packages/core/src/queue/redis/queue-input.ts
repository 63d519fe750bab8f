import { PHY_ID_MESSAGE, PHY_ID_PATTERN } from '../../command';
import { OutboundError } from '../../errors';
import type { ClaimedCommand } from '../queue';

/** Checks and cursors both Redis layouts share (redis-queue.ts, redis-v3/). */

/**
 * A claimed command without the line score it was merged by, copied field by field (a rest
 * spread takes V8's generic clone path, once per claimed command).
 */
export function withoutScore(c: ClaimedCommand & { score: number }): ClaimedCommand {
  const claimed: ClaimedCommand = {
    id: c.id, phyId: c.phyId, payload: c.payload, priority: c.priority, attempts: c.attempts, maxAttempts: c.maxAttempts,
    ackTimeoutMs: c.ackTimeoutMs, expiresAt: c.expiresAt, createdAt: c.createdAt, leaseToken: c.leaseToken, leaseExpiresAt: c.leaseExpiresAt,
  };
  if (c.traceContext !== undefined) claimed.traceContext = c.traceContext;
  return claimed;
}

/** VALIDATION_FAILED unless phyId is one a device may have. */
export function assertPhyId(phyId: string): void {
  if (!PHY_ID_PATTERN.test(phyId)) {
    throw new OutboundError('VALIDATION_FAILED', `phyId ${PHY_ID_MESSAGE}`, { details: [{ path: 'phyId', message: PHY_ID_MESSAGE }] });
  }
}

/** listParkedDevices' cursor `<shard>:<SSCAN cursor>`. */
export function parseParkedCursor(cursor: string | undefined): [number, string] {
  if (!cursor) return [0, '0'];
  const match = /^(\d+):(\d+)$/.exec(cursor);
  if (!match) throw new OutboundError('VALIDATION_FAILED', `cursor ${JSON.stringify(cursor)} is not one this queue answered`, { details: [{ path: 'cursor', message: 'unknown cursor' }] });
  return [Number(match[1]), match[2]];
}

/** listDead's cursor `<deadAt>:<id>`. */
export function parseDeadCursor(cursor: string | undefined): [string, string] {
  if (!cursor) return ['-inf', ''];
  const match = /^(\d+):([0-9a-f-]{36})$/.exec(cursor);
  if (!match) throw new OutboundError('VALIDATION_FAILED', `cursor ${JSON.stringify(cursor)} is not one this queue answered`, { details: [{ path: 'cursor', message: 'unknown cursor' }] });
  return [match[1], match[2]];
}
