/**
 * Every error Outbound reports, with the HTTP status it maps to and a message that says
 * what to do. docs/errors.md lists them; a test checks the two agree.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'The request is invalid; see details for each field.' },
  UNAUTHORIZED: { status: 401, message: 'Send a valid API key as "Authorization: Bearer <key>".' },
  FORBIDDEN: { status: 403, message: 'This API key lacks the role this route needs.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This path does not take this method; see the Allow header.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests for this API key; retry after the indicated delay.' },
  COMMAND_NOT_FOUND: { status: 404, message: 'No command with this id (finished commands are kept for the retention period).' },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'No webhook with this id.' },
  DEVICE_NOT_CONNECTED: { status: 404, message: 'The device holds no connection on this ingress replica.' },
  STALE_EPOCH: { status: 409, message: 'The delivery names an older connection of this device; look up its route again.' },
  LEASE_LOST: { status: 409, message: 'The lease on this command expired or was taken by another claimer; its outcome is ignored.' },
  INVALID_STATE: { status: 409, message: 'The command is not in a state that allows this operation.' },
  IDEMPOTENCY_CONFLICT: { status: 409, message: 'This idempotency key was used with a different device, payload or parameters.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body or payload exceeds the configured limit.' },
  QUEUE_FULL: { status: 429, message: 'The queue cap is reached; retry later or raise the cap.' },
  DEVICE_OFFLINE: { status: 409, message: 'The device has no live connection and the command asked to be refused rather than queued (offline: "reject"). Nothing was stored.' },
  INTERNAL: { status: 500, message: 'Unexpected internal error.' },
  ACK_TIMEOUT: { status: 504, message: 'The device did not acknowledge the command in time.' },
  STORE_UNAVAILABLE: { status: 503, message: 'The queue store is unreachable; nothing was stored. Retry after the indicated delay.' },
  STORE_FULL: { status: 503, message: 'The queue store is near its memory limit; enqueue is paused while the queue drains. Nothing was stored; retry after the indicated delay.' },
  OUTCOME_UNKNOWN: { status: 503, message: 'The store did not answer in time: the command may or may not be stored. Look it up by the id in this answer before sending it again.' },
  NOT_READY: { status: 503, message: 'The service is starting or draining.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The `type` URI of a problem answer: one per code; docs/errors.md describes each. */
export function problemType(code: ErrorCode): string {
  return `urn:outbound:error:${code}`;
}

/**
 * An error answer as RFC 9457 problem details (`application/problem+json`): `type`, `title`
 * (the same for every answer of a code), `status`, `detail` (this occurrence), and the
 * extension members `code` and, for field errors, `errors` (`{path, message}` each). Other
 * context (the command `id`, a cap's `scope`) rides as further extension members.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: Array<{ path: string; message: string }>;
  [extension: string]: unknown;
}

/** The media type of every error answer. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Members an error's details may not overwrite. */
const PROBLEM_MEMBERS = new Set(['type', 'title', 'status', 'detail', 'code', 'errors', 'instance']);

/**
 * A coded error that maps onto an HTTP problem answer. `details` is either the failing fields
 * (`errors`) or an object whose members become extension members of the answer.
 */
export class OutboundError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  /** Seconds for Retry-After (429 and 503 always carry one; 1 when not given). */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: unknown; retryAfterSeconds?: number }) {
    super(message ?? ERROR_CODES[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutboundError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options?.details;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toProblem(): ProblemDetails {
    const problem: ProblemDetails = { type: problemType(this.code), title: ERROR_CODES[this.code].message, status: this.status, detail: this.message, code: this.code };
    if (Array.isArray(this.details)) {
      problem.errors = this.details as Array<{ path: string; message: string }>;
    } else if (this.details !== null && typeof this.details === 'object') {
      for (const [key, value] of Object.entries(this.details)) if (!PROBLEM_MEMBERS.has(key)) problem[key] = value;
    }
    return problem;
  }

  toJSON(): ProblemDetails {
    return this.toProblem();
  }
}

/** The same key of the same device was used before for a command with another payload or parameters. */
export function idempotencyConflict(phyId: string, firstId: string): OutboundError {
  return new OutboundError(
    'IDEMPOTENCY_CONFLICT',
    `idempotency key already used for command ${firstId} of device ${phyId} with another payload or parameters; send a new key for a new command`,
    { details: { id: firstId, phyId } },
  );
}

/** Turns whatever was thrown into an Error without losing it. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

export function isOutboundError(value: unknown, code?: ErrorCode): value is OutboundError {
  return value instanceof OutboundError && (code === undefined || value.code === code);
}
