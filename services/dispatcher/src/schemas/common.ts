/**
 * The pieces every route module's schemas share: path parameters, the command and problem
 * shapes, the error answers each route may give and the security each takes. A route module
 * validates with its schemas and exports its `RouteDoc`s built from the same schemas; openapi.ts
 * collects them into the document served at /openapi.json.
 */
import type { ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { COMMAND_STATUSES, ERROR_CODES, WAITING_FOR, phyIdSchema, timeInputSchema, type CommandView, type ErrorCode } from '@outbound/core/command';

/** One documented operation: method, path, operationId, request schemas, responses. */
export type RouteDoc = RouteConfig & { operationId: string };

/** The limits the app was started with: the document states the same bounds the routes enforce. */
export interface ApiLimits {
  /** Longest ?waitMs a caller may ask for. */
  maxWaitMs: number;
  /** Most commands in one batch enqueue. */
  batchMax: number;
}

/** The API key roles, as security requirements (OpenAPI 3.1 lets a bearer scheme name roles). */
export const SECURITY = {
  send: [{ apiKey: ['send'] }],
  admin: [{ apiKey: ['admin'] }],
  none: [],
} as const satisfies Record<string, RouteConfig['security']>;

export const commandIdSchema = z.uuid('must be a command id (UUID)');
export const commandIdParams = z.object({ id: commandIdSchema });
export const phyIdParams = z.object({ phyId: phyIdSchema.meta({ description: 'the device id' }) });

/**
 * An optional integer in a query string, coerced from its text. Its bounds are stated again for
 * the document: the generator reads a coerced number that accepts 0 as also accepting null.
 */
export const optionalQueryInt = (min: number, max: number, description: string) =>
  z.coerce.number().int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).optional()
    .meta({ type: 'integer', minimum: min, maximum: max, description });

/** A `?limit=&cursor=` page query; `maxLimit` and `defaultLimit` bound it per route. */
export const pageQuery = (maxLimit: number, defaultLimit: number) =>
  z.strictObject({
    limit: z.coerce.number().int('must be an integer').min(1).max(maxLimit, `must be at most ${maxLimit}`).default(defaultLimit),
    cursor: z.string().min(1).max(200).optional().meta({ description: 'the nextCursor of the previous page' }),
  });

/** A time in a query or a body: ISO-8601 with an offset, or epoch milliseconds (answers epoch ms). */
export const timeInput = (description: string) => timeInputSchema.meta({ description: `${description}: ISO-8601 with an offset, or epoch ms` });

const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

export const fieldIssueSchema = z.object({ path: z.string().meta({ description: 'dotted path of the field (`commands.3.priority`)' }), message: z.string() });

export const problemSchema = z
  .looseObject({
    type: z.string().meta({ format: 'uri-reference', description: 'urn:outbound:error:<code>' }),
    title: z.string().meta({ description: 'the same for every answer of this code' }),
    status: z.number().int(),
    detail: z.string().meta({ description: 'what went wrong this time' }),
    code: z.enum(ERROR_CODE_NAMES).meta({ description: 'the error code (docs/errors.md)' }),
    errors: z.array(fieldIssueSchema).optional().meta({ description: 'field errors (400)' }),
    id: z.string().optional().meta({ description: 'the command this error is about (IDEMPOTENCY_CONFLICT: the first command of the key; OUTCOME_UNKNOWN: the id to look up)' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; docs/errors.md lists every code and what it means for a retry' });

const isoTime = z.iso.datetime();

export const commandSchema = z
  .object({
    id: commandIdSchema,
    phyId: phyIdSchema,
    priority: z.number().int(),
    status: z.enum(COMMAND_STATUSES),
    waitingFor: z.enum(WAITING_FOR).nullable().meta({ description: 'why a queued command is not being delivered now (null: ready, or not queued)' }),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    createdAt: isoTime,
    updatedAt: isoTime,
    expiresAt: isoTime,
    deliverAt: isoTime.nullable(),
    lastError: z.string().nullable(),
    result: z.string().nullable().meta({ contentEncoding: 'base64', description: "the device's ACK bytes" }),
  })
  .meta({ id: 'Command' });
// The document's Command and the view the routes answer are one shape.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : never) : never;
const commandShapeMatches: SameKeys<z.infer<typeof commandSchema>, CommandView> = true;
void commandShapeMatches;

/** `{items, nextCursor}`: a page of commands. */
export const commandPageSchema = z.object({ items: z.array(commandSchema), nextCursor: z.string().nullable().meta({ description: 'null on the last page' }) }).meta({ id: 'CommandPage' });

export const json = (schema: z.ZodType, description: string): ResponseConfig => ({ description, content: { 'application/json': { schema } } });
export const jsonBody = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });

const retryAfter = { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer' as const, minimum: 0 } } };
const ERROR_TEXT: Record<number, string> = {
  400: 'invalid request (`errors` names each field)', 401: 'missing or unknown API key', 403: 'the key lacks the role',
  404: 'not found', 405: 'this path does not take this method (Allow)', 409: 'conflict (state, an idempotency key used for another payload, or DEVICE_OFFLINE with offline: "reject")',
  413: 'body too large', 415: 'the body is not application/json',
  429: "the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry",
  503: 'STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After)',
};
const errorResponse = (status: number): ResponseConfig => ({
  description: ERROR_TEXT[status] ?? 'error',
  content: { 'application/problem+json': { schema: problemSchema } },
  ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
  ...(status === 405 ? { headers: { Allow: { description: 'the methods this path takes', schema: { type: 'string' } } } } : {}),
});

/** Every /v1 route may answer 401, 405, 415 (a body that is not JSON), 429 and 503; `statuses` adds the route's own. */
export function errorResponses(...statuses: number[]): Record<string, ResponseConfig> {
  return Object.fromEntries([...new Set([401, 405, 415, 429, 503, ...statuses])].sort().map((s) => [String(s), errorResponse(s)]));
}
