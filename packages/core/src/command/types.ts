/** The shapes a command takes: what the queue takes, what it stores, what the API shows. */

export const COMMAND_STATUSES = ['queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<CommandStatus> = new Set(['acked', 'rejected', 'dead', 'expired', 'cancelled']);

/** Why a `queued` command is not being delivered right now (null: it is ready). */
export const WAITING_FOR = ['device', 'backoff', 'schedule'] as const;
export type WaitingFor = (typeof WAITING_FOR)[number] | null;

/** What the queue takes: the API body with defaults applied and the payload decoded. */
export interface EnqueueInput {
  phyId: string;
  payload: Buffer;
  priority: number;
  ttlMs: number;
  ackTimeoutMs: number;
  maxAttempts: number;
  idempotencyKey?: string;
  /** Epoch ms; absent or in the past means "now". At most the command's expiry (now + ttlMs). */
  deliverAt?: number;
  /** W3C traceparent of the request that enqueued it (tracing on). */
  traceContext?: string;
}

/** A command as the queue stores it. Times are epoch milliseconds. */
export interface StoredCommand {
  id: string;
  phyId: string;
  payload: Buffer;
  priority: number;
  attempts: number;
  maxAttempts: number;
  ackTimeoutMs: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  deliverAt: number | null;
  idempotencyKey: string | null;
  status: CommandStatus;
  waitingFor: WaitingFor;
  lastError: string | null;
  result: Buffer | null;
  /** W3C traceparent of the request that enqueued it (tracing on). */
  traceContext?: string;
}

/** A command as the public API shows it. */
export interface CommandView {
  id: string;
  phyId: string;
  priority: number;
  status: CommandStatus;
  waitingFor: WaitingFor;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  deliverAt: string | null;
  lastError: string | null;
  /** The device's ACK bytes, base64. */
  result: string | null;
}

/** One failing field: `path` is dotted (`commands.3.priority`). */
export interface FieldIssue {
  path: string;
  message: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function toCommandView(command: StoredCommand): CommandView {
  return {
    id: command.id,
    phyId: command.phyId,
    priority: command.priority,
    status: command.status,
    waitingFor: command.status === 'queued' ? command.waitingFor : null,
    attempts: command.attempts,
    maxAttempts: command.maxAttempts,
    createdAt: iso(command.createdAt),
    updatedAt: iso(command.updatedAt),
    expiresAt: iso(command.expiresAt),
    deliverAt: command.deliverAt === null ? null : iso(command.deliverAt),
    lastError: command.lastError,
    result: command.result === null ? null : command.result.toString('base64'),
  };
}
