import { COMMAND_STATUSES, WAITING_FOR, type CommandStatus, type StoredCommand, type WaitingFor } from '../../command';
import type { ClaimedCommand } from '../queue';

/** Field order of each claimed command in claim-11.lua's answer. */
const CLAIM_FIELDS = 11;

function num(value: Buffer | undefined): number {
  return value === undefined || value.length === 0 ? 0 : Number(value.toString());
}

function text(value: Buffer | undefined): string | null {
  return value === undefined || value.length === 0 ? null : value.toString();
}

function status(value: Buffer | undefined): CommandStatus {
  const s = value?.toString() as CommandStatus;
  if (!COMMAND_STATUSES.includes(s)) throw new Error(`stored command has unknown status ${JSON.stringify(s)}`);
  return s;
}

/** A command hash (flat field/value Buffers ending with the derived waitingFor) as StoredCommand. */
export function toStoredCommand(flat: Buffer[]): StoredCommand {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i].toString(), flat[i + 1]);
  const waiting = text(f.get('waitingFor'));
  const deliverAt = text(f.get('deliverAt'));
  const st = status(f.get('status'));
  return {
    id: f.get('id')!.toString(),
    phyId: f.get('phyId')!.toString(),
    payload: f.get('payload') ?? Buffer.alloc(0),
    priority: num(f.get('priority')),
    attempts: num(f.get('attempts')),
    maxAttempts: num(f.get('maxAttempts')),
    ackTimeoutMs: num(f.get('ackTimeoutMs')),
    createdAt: num(f.get('createdAt')),
    updatedAt: num(f.get('updatedAt')),
    expiresAt: num(f.get('expiresAt')),
    deliverAt: deliverAt === null ? null : Number(deliverAt),
    idempotencyKey: text(f.get('idempotencyKey')),
    status: st,
    waitingFor: st === 'queued' && WAITING_FOR.includes(waiting as never) ? (waiting as WaitingFor) : null,
    lastError: text(f.get('lastError')),
    result: f.has('result') ? f.get('result')! : null,
    traceContext: text(f.get('traceContext')) ?? undefined,
  };
}

/** A claimed command with its line score, for merging shards. */
export type ScoredClaim = ClaimedCommand & { score: number };

/**
 * claim-11.lua's flat answer (`leaseExpiresAt`, d, d scores, then CLAIM_FIELDS per command):
 * the claimed commands and the shard's best claimable scores left. Every lease token is the
 * claim's request id.
 */
export function toClaimReply(flat: Buffer[], leaseToken: string): { claimed: ScoredClaim[]; scores: number[] } {
  const leaseExpiresAt = num(flat[0]);
  const d = num(flat[1]);
  const scores: number[] = new Array(d);
  for (let i = 0; i < d; i += 1) scores[i] = num(flat[2 + i]);
  const claimed: ScoredClaim[] = [];
  for (let i = 2 + d; i + CLAIM_FIELDS <= flat.length; i += CLAIM_FIELDS) {
    claimed.push({
      id: flat[i].toString(),
      phyId: flat[i + 1].toString(),
      payload: flat[i + 2],
      priority: num(flat[i + 3]),
      attempts: num(flat[i + 4]),
      maxAttempts: num(flat[i + 5]),
      ackTimeoutMs: num(flat[i + 6]),
      expiresAt: num(flat[i + 7]),
      createdAt: num(flat[i + 8]),
      leaseToken,
      leaseExpiresAt,
      score: num(flat[i + 9]),
      traceContext: flat[i + 10] ? flat[i + 10].toString() : undefined,
    });
  }
  return { claimed, scores };
}
