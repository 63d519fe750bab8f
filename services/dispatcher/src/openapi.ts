/**
 * The public API's OpenAPI 3.1 document, served at /openapi.json. A test walks the express
 * router and this document both ways, so a route cannot exist without being documented here.
 */
import { z } from 'zod';
import { COMMAND_LIMITS, PHY_ID_PATTERN } from '@outbound/core/command';
import { deadListQuery, deadSelectorSchema, deviceCommandsQuery } from './admin-routes';
import { historyQuery } from './command-routes';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const retryAfter = { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } };
const errorResponse = (status: number, description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
  ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
  ...(status === 405 ? { headers: { Allow: { description: 'the methods this path takes', schema: { type: 'string' } } } } : {}),
});
/** Every route may answer 401, 405, 415 (a POST body that is not JSON) and 503; `codes` adds the route's own. */
const errors = (...codes: number[]) => {
  const text: Record<number, string> = {
    400: 'invalid request (`errors` names each field)', 401: 'missing or unknown API key', 403: 'the key lacks the role',
    404: 'not found', 405: 'this path does not take this method (Allow)', 409: 'conflict (state, an idempotency key used for another payload, or DEVICE_OFFLINE with offline: "reject")',
    413: 'body too large', 415: 'the body is not application/json',
    429: "the key's rate limit (RATE_LIMITED) or, on enqueue, the queue cap (QUEUE_FULL); Retry-After says when to retry",
    503: 'STORE_UNAVAILABLE or STORE_FULL: nothing stored; OUTCOME_UNKNOWN: may be stored, the answer names the id to look up (all with Retry-After)',
  };
  // Every /v1 route checks the key and its rate limit before anything else.
  return Object.fromEntries([401, 405, 415, 429, 503, ...codes].map((c) => [String(c), errorResponse(c, text[c] ?? 'error')]));
};
const idempotencyHeader = {
  name: 'Idempotency-Key', in: 'header', required: false,
  description: 'the same as the body\'s idempotencyKey (either may carry it; both, differing, is a 400)',
  schema: { type: 'string', minLength: 1, maxLength: COMMAND_LIMITS.idempotencyKeyMaxLength },
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const phyIdParam = { name: 'phyId', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' } };
const waitParam = { name: 'waitMs', in: 'query', required: false, description: 'hold the answer until the command is terminal or this many ms pass (at most DISPATCHER_MAX_WAIT_MS, default 60000)', schema: { type: 'integer', minimum: 0 } };
/** A request schema the route parses with, as JSON Schema (what the caller sends: before transforms). */
const fromZod = (schema: z.ZodType) => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
};
/** One query parameter per member of a route's query schema. */
const queryParams = (schema: z.ZodObject) =>
  Object.entries(schema.shape).map(([name, member]) => ({ name, in: 'query', required: false, schema: fromZod(member as z.ZodType) }));
const page = { type: 'object', properties: { items: { type: 'array', items: { $ref: '#/components/schemas/Command' } }, nextCursor: { type: ['string', 'null'] } } };
const send = [{ apiKey: [] }];
const admin = [{ apiKey: [] }];

const counts = {
  type: 'object',
  properties: { pending: { type: 'integer' }, inflight: { type: 'integer' }, delayed: { type: 'integer' }, waitingForDevice: { type: 'integer' }, dead: { type: 'integer' } },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Outbound dispatcher API', version: '1.0.0', description: 'Queue commands for TCP-connected devices and follow them to a terminal state. Keys: `send` role for commands, `admin` for devices, device credentials, stats and dead letters.' },
  components: {
    securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS' } },
    schemas: {
      Problem: {
        type: 'object', required: ['type', 'title', 'status', 'detail', 'code'],
        description: 'RFC 9457 problem details; docs/errors.md lists every code and what it means for a retry',
        properties: {
          type: { type: 'string', format: 'uri-reference', description: 'urn:outbound:error:<code>' },
          title: { type: 'string', description: 'the same for every answer of this code' },
          status: { type: 'integer' },
          detail: { type: 'string', description: 'what went wrong this time' },
          code: { type: 'string', description: 'the error code (docs/errors.md)' },
          errors: { type: 'array', description: 'field errors (400)', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          id: { type: 'string', description: 'the command this error is about (IDEMPOTENCY_CONFLICT: the first command of the key; OUTCOME_UNKNOWN: the id to look up)' },
        },
        additionalProperties: true,
      },
      EnqueueRequest: {
        type: 'object', required: ['phyId', 'payload'], additionalProperties: false,
        properties: {
          phyId: { type: 'string', pattern: PHY_ID_PATTERN.source },
          payload: { type: 'string', contentEncoding: 'base64', description: `at most ${COMMAND_LIMITS.payloadMaxBytes} bytes once decoded` },
          priority: { type: 'integer', minimum: COMMAND_LIMITS.priorityMin, maximum: COMMAND_LIMITS.priorityMax, default: 5 },
          ttlMs: { type: 'integer', minimum: COMMAND_LIMITS.ttlMsMin, maximum: COMMAND_LIMITS.ttlMsMax, default: 3600000 },
          ackTimeoutMs: { type: 'integer', minimum: COMMAND_LIMITS.ackTimeoutMsMin, maximum: COMMAND_LIMITS.ackTimeoutMsMax, default: 10000 },
          maxAttempts: { type: 'integer', minimum: COMMAND_LIMITS.maxAttemptsMin, maximum: COMMAND_LIMITS.maxAttemptsMax, default: 5 },
          idempotencyKey: { type: 'string', minLength: 1, maxLength: COMMAND_LIMITS.idempotencyKeyMaxLength, description: 'scoped to the device; a repeat with the same payload and parameters answers the first command, with others 409' },
          deliverAt: { oneOf: [{ type: 'string', format: 'date-time' }, { type: 'integer', minimum: 0 }], description: 'not after the command expires (now + ttlMs)' },
          offline: { enum: ['queue', 'reject'], default: 'queue', description: 'reject: refuse at once (409 DEVICE_OFFLINE, nothing stored) when the device has no live connection' },
        },
      },
      EnqueueResult: { type: 'object', properties: { id: { type: 'string', format: 'uuid' }, status: { type: 'string' }, duplicate: { type: 'boolean' } } },
      Command: {
        type: 'object',
        properties: {
          id: { type: 'string', format: 'uuid' }, phyId: { type: 'string' }, priority: { type: 'integer' },
          status: { enum: ['queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled'] },
          waitingFor: { enum: ['device', 'backoff', 'schedule', null] },
          attempts: { type: 'integer' }, maxAttempts: { type: 'integer' },
          createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' },
          expiresAt: { type: 'string', format: 'date-time' }, deliverAt: { type: ['string', 'null'], format: 'date-time' },
          lastError: { type: ['string', 'null'] }, result: { type: ['string', 'null'], contentEncoding: 'base64', description: "the device's ACK bytes" },
        },
      },
      CredentialState: {
        type: 'object', description: 'Which handshake key is in force for the device (never the key itself), and whether it is revoked',
        properties: { key: { enum: ['provisioned', 'derived'] }, revoked: { type: 'boolean' } },
      },
      Stats: { type: 'object', properties: { total: counts, shards: { type: 'array', items: { ...counts, properties: { ...counts.properties, shard: { type: 'integer' } } } } } },
    },
  },
  paths: {
    '/v1/commands': {
      post: {
        summary: 'Enqueue one command', security: send, parameters: [waitParam, idempotencyHeader], requestBody: { required: true, ...json(ref('EnqueueRequest')) },
        responses: {
          '202': { description: 'accepted ({id, status, duplicate}; with waitMs the full command, not yet terminal)', ...json(ref('EnqueueResult')) },
          '200': { description: 'with waitMs: the command reached a terminal state', ...json(ref('Command')) },
          ...errors(400, 403, 409, 413, 429),
        },
      },
      get: {
        summary: 'Command history: queued, in-flight and finished commands within retention, newest enqueue first', security: send, parameters: queryParams(historyQuery),
        responses: { '200': { description: 'a page (it may hold fewer than limit and still have a nextCursor)', ...json(page) }, '501': errorResponse(501, 'NOT_IMPLEMENTED: the store does not offer the history yet (Redis)'), ...errors(400, 403) },
      },
    },
    '/v1/commands/batch': {
      post: {
        summary: 'Enqueue up to 1000 commands; each item answers on its own (with waitMs: until every one is terminal or the wait passes)', security: send, parameters: [waitParam],
        requestBody: { required: true, ...json({ type: 'object', required: ['commands'], properties: { commands: { type: 'array', maxItems: 1000, items: ref('EnqueueRequest') } } }) },
        responses: {
          '200': { description: 'per-item results in request order: {index, id, status, duplicate} (with waitMs: {index, ...the full command, duplicate}) or {index, ...problem details of that item}', ...json({ type: 'object', properties: { accepted: { type: 'integer' }, failed: { type: 'integer' }, results: { type: 'array', items: { type: 'object' } } } }) },
          ...errors(400, 403, 413),
        },
      },
    },
    '/v1/commands/{id}': {
      get: { summary: 'Read a command (long-poll with waitMs)', security: send, parameters: [idParam, waitParam], responses: { '200': { description: 'the command', ...json(ref('Command')) }, ...errors(400, 403, 404) } },
      delete: { summary: 'Cancel a command that is still queued', security: send, parameters: [idParam], responses: { '200': { description: 'the cancelled command', ...json(ref('Command')) }, ...errors(400, 403, 404, 409) } },
    },
    '/v1/devices/{phyId}': {
      get: {
        summary: 'Is the device online, on which replica, since when, and how many commands it has pending', security: admin, parameters: [phyIdParam],
        responses: { '200': { description: 'device view', ...json({ type: 'object', properties: { phyId: { type: 'string' }, online: { type: 'boolean' }, replicaId: { type: ['string', 'null'] }, epoch: { type: ['integer', 'null'] }, connectedSince: { type: ['string', 'null'], format: 'date-time' }, pending: { type: 'integer' }, credentials: ref('CredentialState') } }) }, ...errors(400, 403) },
      },
    },
    '/v1/devices/{phyId}/commands': {
      get: {
        summary: "Without status or cursor: the device's pending commands in delivery order (nextCursor null). With either: its history, newest enqueue first, paged", security: admin,
        parameters: [phyIdParam, ...queryParams(deviceCommandsQuery)],
        responses: { '200': { description: 'commands', ...json({ type: 'object', properties: { phyId: { type: 'string' }, items: { type: 'array', items: ref('Command') }, nextCursor: { type: ['string', 'null'] } } }) }, '501': errorResponse(501, 'NOT_IMPLEMENTED: history (status or cursor) on a store without it'), ...errors(400, 403) },
      },
      delete: {
        summary: 'Cancel every queued command of the device (not those in flight)', security: admin, parameters: [phyIdParam],
        responses: { '200': { description: 'how many were cancelled', ...json({ type: 'object', properties: { cancelled: { type: 'integer' } } }) }, ...errors(400, 403) },
      },
    },
    '/v1/devices/{phyId}/credentials': {
      put: {
        summary: "Provision (or replace) the device's own handshake key; the key is stored, never logged or answered", security: admin, parameters: [phyIdParam],
        requestBody: { required: true, ...json({ type: 'object', required: ['key'], additionalProperties: false, properties: { key: { type: 'string', contentEncoding: 'base64', description: '32 bytes, base64' } } }) },
        responses: { '200': { description: 'provisioned', ...json({ type: 'object', properties: { phyId: { type: 'string' }, key: { const: 'provisioned' } } }) }, ...errors(400, 403, 413) },
      },
      delete: {
        summary: 'Revert the device to the key derived from the fleet secret', security: admin, parameters: [phyIdParam],
        responses: { '200': { description: 'derived key in force; removed says whether a key was provisioned', ...json({ type: 'object', properties: { phyId: { type: 'string' }, key: { const: 'derived' }, removed: { type: 'boolean' } } }) }, ...errors(400, 403) },
      },
    },
    '/v1/devices/{phyId}/revocation': {
      put: {
        summary: 'Revoke the device: every ingress replica disconnects it and refuses its handshakes until lifted', security: admin, parameters: [phyIdParam],
        responses: { '200': { description: 'revoked', ...json({ type: 'object', properties: { phyId: { type: 'string' }, revoked: { const: true } } }) }, ...errors(400, 403) },
      },
      delete: {
        summary: 'Lift a revocation', security: admin, parameters: [phyIdParam],
        responses: { '200': { description: 'not revoked; lifted says whether a revocation was in place', ...json({ type: 'object', properties: { phyId: { type: 'string' }, revoked: { const: false }, lifted: { type: 'boolean' } } }) }, ...errors(400, 403) },
      },
    },
    '/v1/stats': {
      get: { summary: 'Queue counts in total and per shard', security: admin, responses: { '200': { description: 'counts', ...json(ref('Stats')) }, ...errors(403) } },
    },
    '/v1/dead-letters': {
      get: {
        summary: 'Dead letters, oldest death first, filtered (reason: a prefix of lastError) and paged', security: admin, parameters: queryParams(deadListQuery),
        responses: { '200': { description: 'a page (with a filter it may hold fewer than limit and still have a nextCursor)', ...json(page) }, ...errors(400, 403) },
      },
    },
    '/v1/dead-letters/replay': {
      post: {
        summary: 'Requeue dead letters (attempts reset): these ids, all, or those a filter selects', security: admin,
        requestBody: { required: true, ...json(fromZod(deadSelectorSchema)) },
        responses: { '200': { description: 'how many moved', ...json({ type: 'object', properties: { replayed: { type: 'integer' } } }) }, ...errors(400, 403) },
      },
    },
    '/v1/dead-letters/purge': {
      post: {
        summary: 'Delete dead letters for good: these ids, all, or those a filter selects', security: admin,
        requestBody: { required: true, ...json(fromZod(deadSelectorSchema)) },
        responses: { '200': { description: 'how many went', ...json({ type: 'object', properties: { purged: { type: 'integer' } } }) }, ...errors(400, 403) },
      },
    },
    '/v1/dead-letters/{id}': {
      delete: { summary: 'Delete one dead letter', security: admin, parameters: [idParam], responses: { '200': { description: 'deleted', ...json({ type: 'object', properties: { deleted: { type: 'integer' } } }) }, ...errors(400, 403, 404) } },
    },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    '/healthz': { get: { summary: 'Alive', security: [], responses: { '200': { description: 'alive' } } } },
    '/readyz': { get: { summary: 'Ready for traffic', security: [], responses: { '200': { description: 'ready' }, '503': { description: 'starting, draining or a dependency is down' } } } },
    '/health': { get: { summary: "Each dependency's status and latency", security: [], responses: { '200': { description: 'ok or degraded' }, '503': { description: 'a dependency is down' } } } },
    '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text exposition format' } } } },
  },
} as const;
