import { COMMAND_STATUSES, WAITING_FOR, type CommandStatus, type StoredCommand, type WaitingFor } from '../../command';
import type { ClaimedCommand } from '../queue';

/** Field order of each claimed command in claim-11.lua's answer. */
const CLAIM_FIELDS = 12;

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
  };
}

/** claim-11.lua's flat answer as ClaimedCommands with their line score (for merging shards). */
export function toClaimedCommands(flat: Buffer[]): Array<ClaimedCommand & { score: number }> {
  const out: Array<ClaimedCommand & { score: number }> = [];
  for (let i = 0; i + CLAIM_FIELDS <= flat.length; i += CLAIM_FIELDS) {
    const f = flat.slice(i, i + CLAIM_FIELDS);
    out.push({
      id: f[0].toString(),
      phyId: f[1].toString(),
      payload: f[2],
      priority: num(f[3]),
      attempts: num(f[4]),
      maxAttempts: num(f[5]),
      ackTimeoutMs: num(f[6]),
      expiresAt: num(f[7]),
      createdAt: num(f[8]),
      leaseToken: f[9].toString(),
      leaseExpiresAt: num(f[10]),
      score: num(f[11]),
    });
  }
  return out;
}
