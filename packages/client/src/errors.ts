import type { components } from './generated/openapi';

/** An error code the API answers with (docs/errors.md in the Outbound repository lists them). */
export type ApiErrorCode = components['schemas']['Problem']['code'];
/** Codes of failures the client sees without an answer from the API. */
export type ClientErrorCode = 'UNREACHABLE' | 'TIMEOUT' | 'UNEXPECTED_RESPONSE';

export type Problem = components['schemas']['Problem'];
export interface FieldError {
  /** Dotted path of the field, e.g. `commands.3.priority` or `query.waitMs`. */
  path: string;
  message: string;
}

/**
 * The API refused a request (`status` 4xx/5xx, `code` from its problem answer), or it could not
 * be reached (`status` 0, `code` UNREACHABLE or TIMEOUT). `fields` names each invalid field of a
 * VALIDATION_FAILED answer; `retryAfterSeconds` is set on 429 and 503.
 */
export class OutboundApiError extends Error {
  readonly status: number;
  readonly code: ApiErrorCode | ClientErrorCode;
  readonly fields: FieldError[];
  readonly retryAfterSeconds: number | null;
  /** The problem answer as sent, when there was one (it may carry more members, such as `id`). */
  readonly problem: Problem | null;

  constructor(init: { status: number; code: ApiErrorCode | ClientErrorCode; message: string; fields?: FieldError[]; retryAfterSeconds?: number | null; problem?: Problem | null; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'OutboundApiError';
    this.status = init.status;
    this.code = init.code;
    this.fields = init.fields ?? [];
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
    this.problem = init.problem ?? null;
  }

  /** The error for an answer that is not a success; `body` is its parsed JSON, if it had any. */
  static fromResponse(response: Response, body: unknown): OutboundApiError {
    const problem = isProblem(body) ? body : null;
    const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
    return new OutboundApiError({
      status: response.status,
      code: problem?.code ?? 'UNEXPECTED_RESPONSE',
      message: problem?.detail ?? `HTTP ${response.status} ${response.statusText}`.trim(),
      fields: problem?.errors ?? [],
      retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : null,
      problem,
    });
  }

  /** The error for a request that got no answer (refused connection, DNS, timeout, abort). */
  static fromFailure(url: string, error: unknown): OutboundApiError {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    return new OutboundApiError({
      status: 0,
      code: timedOut ? 'TIMEOUT' : 'UNREACHABLE',
      message: timedOut ? `no answer from ${url} in time` : `cannot reach ${url}: ${reason}`,
      cause: error,
    });
  }

  toJSON(): Record<string, unknown> {
    return { status: this.status, code: this.code, message: this.message, fields: this.fields, ...(this.retryAfterSeconds === null ? {} : { retryAfterSeconds: this.retryAfterSeconds }) };
  }
}

function isProblem(body: unknown): body is Problem {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'string' && typeof (body as { status?: unknown }).status === 'number';
}
