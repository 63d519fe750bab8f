import { COMMAND_LIMITS, PHY_ID_PATTERN, type EnqueueInput } from '../../command';
import { OutboundError } from '../../errors';
import type { ClaimedCommand } from '../queue';

/** Input checks and cursors both Redis layouts share (redis-queue.ts, redis-v3/). */

/** A claimed command without the line score it was merged by. */
export function withoutScore({ score: _score, ...claimed }: ClaimedCommand & { score: number }): ClaimedCommand {
  return claimed;
}

/** VALIDATION_FAILED unless phyId is one a device may have. */
export function assertPhyId(phyId: string): void {
  if (!PHY_ID_PATTERN.test(phyId)) {
    throw new OutboundError('VALIDATION_FAILED', 'phyId must be 1-64 characters of A-Z a-z 0-9 . _ : -', {
      details: [{ path: 'phyId', message: 'must be 1-64 characters of A-Z a-z 0-9 . _ : -' }],
    });
  }
}

/** The enqueue checks, as one VALIDATION_FAILED naming every bad field (null: fine). */
export function validateInput(input: EnqueueInput): OutboundError | null {
  const problems: Array<{ path: string; message: string }> = [];
  if (!PHY_ID_PATTERN.test(input.phyId)) problems.push({ path: 'phyId', message: 'must be 1-64 characters of A-Z a-z 0-9 . _ : -' });
  if (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 9) problems.push({ path: 'priority', message: 'must be an integer 0-9' });
  if (!Number.isInteger(input.ttlMs) || input.ttlMs < 1) problems.push({ path: 'ttlMs', message: 'must be a positive integer' });
  if (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1) problems.push({ path: 'maxAttempts', message: 'must be a positive integer' });
  if (!Number.isInteger(input.ackTimeoutMs) || input.ackTimeoutMs < 1) problems.push({ path: 'ackTimeoutMs', message: 'must be a positive integer' });
  if (input.payload.length > COMMAND_LIMITS.payloadMaxBytes) problems.push({ path: 'payload', message: `must be at most ${COMMAND_LIMITS.payloadMaxBytes} bytes` });
  if (problems.length === 0) return null;
  return new OutboundError('VALIDATION_FAILED', `invalid command: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { details: problems });
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
