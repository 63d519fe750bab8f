import { z } from 'zod';
import { OutboundError } from './errors';

/** Defaults from DESIGN.md ("Public API"). */
export const COMMAND_DEFAULTS = {
  priority: 5,
  ackTimeoutMs: 10_000,
  maxAttempts: 5,
  ttlMs: 3_600_000,
} as const;

/** Bounds on what a caller may ask for; anything outside is a 400 naming the field. */
export const COMMAND_LIMITS = {
  priorityMin: 0,
  priorityMax: 9,
  ackTimeoutMsMin: 100,
  ackTimeoutMsMax: 300_000,
  maxAttemptsMax: 100,
  ttlMsMax: 7 * 24 * 3_600_000,
  idempotencyKeyMaxLength: 200,
  /** Matches the wire protocol's default maxFrameBytes less the 16-byte command id. */
  payloadMaxBytes: 65_536 - 16,
} as const;

/** phyId as the wire protocol allows it: 1–64 bytes of `[A-Za-z0-9._:-]`. */
export const PHY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

export const COMMAND_STATUSES = ['queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<CommandStatus> = new Set(['acked', 'rejected', 'dead', 'expired', 'cancelled']);

/** Why a `queued` command is not being delivered right now (null: it is ready). */
export const WAITING_FOR = ['device', 'backoff', 'schedule'] as const;
export type WaitingFor = (typeof WAITING_FOR)[number] | null;

export const phyIdSchema = z.string().regex(PHY_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -');

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The public API's enqueue body (JSON). */
export const enqueueRequestSchema = z.strictObject({
  phyId: phyIdSchema,
  payload: z
    .string()
    .regex(base64Pattern, 'must be base64')
    .refine((s) => Buffer.byteLength(s, 'base64') <= COMMAND_LIMITS.payloadMaxBytes, {
      message: `must decode to at most ${COMMAND_LIMITS.payloadMaxBytes} bytes`,
    }),
  priority: z.number().int().min(COMMAND_LIMITS.priorityMin).max(COMMAND_LIMITS.priorityMax).optional(),
  ttlMs: z.number().int().positive().max(COMMAND_LIMITS.ttlMsMax).optional(),
  ackTimeoutMs: z.number().int().min(COMMAND_LIMITS.ackTimeoutMsMin).max(COMMAND_LIMITS.ackTimeoutMsMax).optional(),
  maxAttempts: z.number().int().min(1).max(COMMAND_LIMITS.maxAttemptsMax).optional(),
  idempotencyKey: z.string().min(1).max(COMMAND_LIMITS.idempotencyKeyMaxLength).optional(),
  /** When to deliver: an ISO-8601 timestamp or epoch milliseconds. */
  deliverAt: z.union([z.iso.datetime({ offset: true }), z.number().int().nonnegative()]).optional(),
});
export type EnqueueRequest = z.infer<typeof enqueueRequestSchema>;

/** What the queue takes: the API body with defaults applied and the payload decoded. */
export interface EnqueueInput {
  phyId: string;
  payload: Buffer;
  priority: number;
  ttlMs: number;
  ackTimeoutMs: number;
  maxAttempts: number;
  idempotencyKey?: string;
  /** Epoch ms; absent or in the past means "now". */
  deliverAt?: number;
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

export function zodIssues(error: z.ZodError, prefix: (string | number)[] = []): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(body)',
    message: issue.message,
  }));
}

/** Throws VALIDATION_FAILED naming every failing field, or returns the parsed value. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix: (string | number)[] = []): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = zodIssues(parsed.error, prefix);
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new OutboundError('VALIDATION_FAILED', `invalid request: ${summary}`, { details: issues });
}

/** Applies DESIGN.md's defaults and decodes the payload. */
export function toEnqueueInput(request: EnqueueRequest): EnqueueInput {
  const deliverAt =
    request.deliverAt === undefined ? undefined : typeof request.deliverAt === 'number' ? request.deliverAt : Date.parse(request.deliverAt);
  return {
    phyId: request.phyId,
    payload: Buffer.from(request.payload, 'base64'),
    priority: request.priority ?? COMMAND_DEFAULTS.priority,
    ttlMs: request.ttlMs ?? COMMAND_DEFAULTS.ttlMs,
    ackTimeoutMs: request.ackTimeoutMs ?? COMMAND_DEFAULTS.ackTimeoutMs,
    maxAttempts: request.maxAttempts ?? COMMAND_DEFAULTS.maxAttempts,
    ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
    ...(deliverAt === undefined ? {} : { deliverAt }),
  };
}

/** Validates an API body and returns the queue's input. */
export function parseEnqueueRequest(body: unknown, prefix: (string | number)[] = []): EnqueueInput {
  return toEnqueueInput(parseOrThrow(enqueueRequestSchema, body, prefix));
}

/** Validates a command as stored (used by backends when reading records back). */
export const storedCommandSchema = z.object({
  id: z.uuid(),
  phyId: phyIdSchema,
  payload: z.instanceof(Buffer),
  priority: z.number().int().min(0).max(9),
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  ackTimeoutMs: z.number().int().positive(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  expiresAt: z.number().int(),
  deliverAt: z.number().int().nullable(),
  idempotencyKey: z.string().nullable(),
  status: z.enum(COMMAND_STATUSES),
  waitingFor: z.enum(WAITING_FOR).nullable(),
  lastError: z.string().nullable(),
  result: z.instanceof(Buffer).nullable(),
});

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
