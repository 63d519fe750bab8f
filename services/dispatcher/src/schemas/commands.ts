/** Schemas of the command routes (command-routes.ts validates with them) and their operations. */
import { z } from 'zod';
import { COMMAND_STATUSES, enqueueRequestSchema, idempotencyKeySchema, phyIdSchema } from '@outbound/core/command';
import {
  commandIdParams, commandIdSchema, commandPageSchema, optionalQueryInt, commandSchema, errorResponses, fieldIssueSchema, json, jsonBody, pageQuery, problemSchema, SECURITY,
  timeInput, type ApiLimits, type RouteDoc,
} from './common';

export function waitQuerySchema(maxWaitMs: number) {
  return z.strictObject({
    waitMs: optionalQueryInt(0, maxWaitMs, 'hold the answer until the command is terminal or this many ms pass'),
  });
}

export const idempotencyHeaders = z.object({
  'Idempotency-Key': idempotencyKeySchema.optional().meta({ description: "the same as the body's idempotencyKey (either may carry it; both, differing, is a 400)" }),
});

/**
 * The batch envelope. Its items are checked one by one with the enqueue schema, so one bad item
 * answers an error in its slot and the rest go ahead; the document shows them as EnqueueRequest.
 */
export function batchEnvelopeSchema(batchMax: number) {
  return z.strictObject({
    commands: z.array(z.unknown()).min(1, 'must hold at least one command').max(batchMax, `must hold at most ${batchMax} commands`)
      .meta({ items: { $ref: '#/components/schemas/EnqueueRequest' } }),
  });
}

const commandStatus = z.enum(COMMAND_STATUSES);

/** GET /v1/commands: the history's filters and page. */
export const historyQuery = pageQuery(1000, 100).extend({
  phyId: phyIdSchema.optional().meta({ description: 'one device' }),
  status: commandStatus.optional(),
  since: timeInput('enqueued at or after this time').optional(),
  until: timeInput('enqueued before this time').optional(),
});
export const enqueueResultSchema = z
  .object({ id: commandIdSchema, status: commandStatus, duplicate: z.boolean().meta({ description: 'true when an earlier command with the same idempotency key answers' }) })
  .meta({ id: 'EnqueueResult' });
export const waitedCommandSchema = commandSchema.extend({ duplicate: z.boolean() }).meta({ id: 'WaitedCommand', description: 'the command as the wait left it' });

export const batchAcceptedItemSchema = enqueueResultSchema.extend({ index: z.number().int() }).meta({ id: 'BatchAccepted' });
export const batchWaitedItemSchema = waitedCommandSchema.extend({ index: z.number().int() }).meta({ id: 'BatchWaited', description: 'with waitMs: the whole command as the wait left it' });
export const batchFailedItemSchema = problemSchema.extend({ index: z.number().int(), errors: z.array(fieldIssueSchema).optional() }).meta({ id: 'BatchFailed', description: 'the problem details of this item' });
export const batchResultSchema = z
  .object({
    accepted: z.number().int(),
    failed: z.number().int(),
    results: z.array(z.union([batchAcceptedItemSchema, batchWaitedItemSchema, batchFailedItemSchema])).meta({ description: 'one per command, in request order' }),
  })
  .meta({ id: 'BatchResult' });

/** Enqueue (one and batch), read and cancel. */
export function commandRouteDocs(limits: ApiLimits): RouteDoc[] {
  const waitQuery = waitQuerySchema(limits.maxWaitMs);
  return [
    {
      method: 'post', path: '/v1/commands', operationId: 'enqueueCommand', summary: 'Enqueue one command', security: SECURITY.send,
      request: { query: waitQuery, headers: idempotencyHeaders, body: jsonBody(enqueueRequestSchema) },
      responses: {
        202: json(z.union([enqueueResultSchema, waitedCommandSchema]), 'accepted ({id, status, duplicate}; with waitMs the full command, not yet terminal)'),
        200: json(waitedCommandSchema, 'with waitMs: the command reached a terminal state'),
        ...errorResponses(400, 403, 409, 413, 429),
      },
    },
    {
      method: 'post', path: '/v1/commands/batch', operationId: 'enqueueCommands', security: SECURITY.send,
      summary: `Enqueue up to ${limits.batchMax} commands; each item answers on its own (with waitMs: once every one is terminal or the wait passes)`,
      request: { query: waitQuery, body: jsonBody(batchEnvelopeSchema(limits.batchMax)) },
      responses: { 200: json(batchResultSchema, 'per-item results in request order'), ...errorResponses(400, 403, 413) },
    },
    {
      method: 'get', path: '/v1/commands', operationId: 'listCommands', security: SECURITY.send,
      summary: 'Command history: queued, in-flight and finished commands within retention, newest enqueue first',
      request: { query: historyQuery },
      responses: { 200: json(commandPageSchema, 'a page (it may hold fewer than limit and still have a nextCursor)'), ...errorResponses(400, 403) },
    },
    {
      method: 'get', path: '/v1/commands/{id}', operationId: 'getCommand', summary: 'Read a command (long-poll with waitMs)', security: SECURITY.send,
      request: { params: commandIdParams, query: waitQuery },
      responses: { 200: json(commandSchema, 'the command'), ...errorResponses(400, 403, 404) },
    },
    {
      method: 'delete', path: '/v1/commands/{id}', operationId: 'cancelCommand', summary: 'Cancel a command that is still queued', security: SECURITY.send,
      request: { params: commandIdParams },
      responses: { 200: json(commandSchema, 'the cancelled command'), ...errorResponses(400, 403, 404, 409) },
    },
  ];
}
