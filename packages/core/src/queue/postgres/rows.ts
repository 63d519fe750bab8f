import type { CommandStatus, StoredCommand, WaitingFor } from '../../command';
import type { ClaimedCommand } from '../queue';

/** Epoch milliseconds of a timestamptz column, read on the database clock. */
export const ms = (column: string): string => `floor(extract(epoch FROM ${column}) * 1000)::float8`;

/**
 * Columns of a StoredCommand, for `FROM <commands> c LEFT JOIN <devices> d USING (phy_id)`.
 * waitingFor is derived, not stored, in the Redis backend's precedence: schedule, device, backoff
 * (a command behind its device's retry wait reads as waiting for backoff too).
 */
export const COMMAND_COLUMNS = `
  c.id, c.phy_id, c.payload, c.priority, c.attempts, c.max_attempts, c.ack_timeout_ms,
  c.idempotency_key, c.status, c.last_error, c.result, c.seq, c.trace_context,
  ${ms('c.created_at')} AS created_at, ${ms('c.updated_at')} AS updated_at,
  ${ms('c.expires_at')} AS expires_at, ${ms('c.deliver_at')} AS deliver_at,
  CASE WHEN c.status <> 'queued' THEN NULL
       WHEN c.wait_reason = 'schedule' AND c.run_at > now() THEN 'schedule'
       WHEN coalesce(d.offline, false) THEN 'device'
       WHEN greatest(c.run_at, d.retry_at) > now() THEN 'backoff'
       ELSE NULL END AS waiting_for`;

export interface CommandRow {
  id: string;
  phy_id: string;
  payload: Buffer;
  priority: number;
  attempts: number;
  max_attempts: number;
  ack_timeout_ms: number;
  idempotency_key: string | null;
  status: CommandStatus;
  last_error: string | null;
  result: Buffer | null;
  seq: string;
  created_at: number;
  updated_at: number;
  expires_at: number;
  deliver_at: number | null;
  waiting_for: WaitingFor;
  trace_context: string | null;
}

export function toStoredCommand(row: CommandRow): StoredCommand {
  return {
    id: row.id,
    phyId: row.phy_id,
    payload: row.payload,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    ackTimeoutMs: row.ack_timeout_ms,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    deliverAt: row.deliver_at,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    waitingFor: row.waiting_for,
    lastError: row.last_error,
    result: row.result,
    traceContext: row.trace_context ?? undefined,
  };
}

export interface ClaimRow {
  id: string;
  phy_id: string;
  payload: Buffer;
  priority: number;
  attempts: number;
  max_attempts: number;
  ack_timeout_ms: number;
  lease_token: string;
  expires_at: number;
  created_at: number;
  lease_expires_at: number;
  trace_context: string | null;
}

export function toClaimedCommand(row: ClaimRow): ClaimedCommand {
  return {
    id: row.id,
    phyId: row.phy_id,
    payload: row.payload,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    ackTimeoutMs: row.ack_timeout_ms,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    leaseToken: row.lease_token,
    leaseExpiresAt: row.lease_expires_at,
    traceContext: row.trace_context ?? undefined,
  };
}
