/**
 * Schemas of the event routes (event-routes.ts: timelines, the live stream) and the webhook
 * routes (webhooks/routes.ts), which validate with them, and their operations.
 */
import { z } from 'zod';
import { EVENT_TYPES } from '@outbound/core';
import { phyIdSchema } from '@outbound/core/command';
import { commandIdParams, errorResponses, json, jsonBody, SECURITY, type RouteDoc } from './common';

const eventTypeSchema = z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` });

/** Cursors are printable, without spaces, at most 1,024 characters (`LoggedEvent.cursor`). */
export const eventCursorSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .regex(/^[\x21-\x7e]+$/, 'must be an event id the stream sent (printable, no spaces)');

export const eventStreamQuery = z.strictObject({
  types: z
    .string()
    .transform((text) => text.split(',').map((t) => t.trim()).filter((t) => t.length > 0))
    .pipe(z.array(eventTypeSchema).min(1, 'must name at least one event type'))
    .optional()
    .meta({ type: 'string', description: `comma-separated event types (${EVENT_TYPES.join(', ')}); default all` }),
  phyId: phyIdSchema.optional().meta({ description: "only this device's events" }),
  after: eventCursorSchema.optional().meta({ description: 'resume after this event id (for clients that cannot send Last-Event-ID)' }),
  from: z.literal('oldest', 'must be "oldest" (or leave it out to start at the head)').optional().meta({ description: 'without a cursor: start at the oldest event retained instead of the head' }),
});

export const eventStreamHeaders = z.object({
  'last-event-id': eventCursorSchema.optional().meta({ description: 'resume right after this event (the last `id:` read)' }),
});

export const eventSchema = z
  .object({
    id: z.string().meta({ description: 'unique and stable; webhooks send it as webhook-id' }),
    type: eventTypeSchema,
    time: z.number().int().meta({ description: 'store clock, epoch ms' }),
    commandId: z.string().optional().meta({ description: 'absent on device events' }),
    phyId: z.string(),
    attempt: z.number().int().optional().meta({ description: 'the attempt it belongs to (1-based)' }),
    details: z.object({
      replica: z.string().optional().meta({ description: 'command.delivered: the ingress replica that wrote it to the device' }),
      reason: z.string().optional().meta({ description: 'command.retrying, command.dead, command.rejected: why' }),
      retryAt: z.number().int().optional().meta({ description: 'command.retrying: when the next attempt may go (epoch ms)' }),
      priority: z.number().int().optional().meta({ description: "command.queued: the command's priority" }),
    }),
  })
  .meta({ id: 'Event' });

/** A webhook's event filter: phyId prefixes follow the phyId alphabet. */
const phyIdPrefixSchema = z.string().max(64, 'must be at most 64 characters').regex(/^[A-Za-z0-9._:-]*$/, 'may hold only the characters of a phyId (A-Z a-z 0-9 . _ : -)');

export const createWebhookSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' }).max(2048, 'must be at most 2048 characters'),
    events: z.array(eventTypeSchema).min(1, 'must name at least one event type').max(EVENT_TYPES.length, `must name at most ${EVENT_TYPES.length} event types`)
      .transform((types) => [...new Set(types)]),
    phyIdPrefix: phyIdPrefixSchema.optional().meta({ description: 'only devices whose phyId starts with this' }),
  })
  .meta({ id: 'WebhookRequest' });

export const webhookIdParams = z.object({ id: z.uuid('must be a webhook id (UUID)') });

export const webhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(eventTypeSchema),
    phyIdPrefix: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().meta({ description: 'why it stopped (the receiver answered 410); null while enabled' }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Webhook' });

const createdWebhookSchema = webhookSchema
  .extend({ secret: z.string().meta({ description: 'whsec_<base64>: the signing secret, answered only here' }) })
  .meta({ id: 'CreatedWebhook' });

export const deliveryAttemptSchema = z
  .object({
    eventId: z.string(),
    attempt: z.number().int().meta({ description: '1 for the first POST of this event, counting up per retry' }),
    at: z.iso.datetime().meta({ description: 'when the POST started' }),
    statusCode: z.number().int().nullable().meta({ description: "the receiver's status; null when no answer came (timeout, refused)" }),
    error: z.string().nullable(),
    durationMs: z.number().int(),
  })
  .meta({ id: 'WebhookDelivery' });
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

/** Timelines and the live stream: the `send` role. */
export function eventRouteDocs(): RouteDoc[] {
  return [
    {
      method: 'get', path: '/v1/commands/{id}/events', operationId: 'getCommandEvents', security: SECURITY.send,
      summary: "A command's events in order: queued, each delivery (with its replica), retries, the outcome",
      request: { params: commandIdParams },
      responses: { 200: json(z.object({ items: z.array(eventSchema) }), 'the timeline'), ...errorResponses(400, 403, 404) },
    },
    {
      method: 'get', path: '/v1/events', operationId: 'streamEvents', security: SECURITY.send,
      summary: 'The live event stream (Server-Sent Events), resumable with Last-Event-ID',
      request: { query: eventStreamQuery, headers: eventStreamHeaders },
      responses: {
        200: {
          description: 'text/event-stream: per event `id: <cursor>`, `event: <type>`, `data: <Event as JSON>`; a `: keepalive` comment every 15 s',
          content: { 'text/event-stream': { schema: z.string().meta({ description: 'Server-Sent Events; each data line is an Event' }) } },
        },
        ...errorResponses(400, 403),
      },
    },
  ];
}

/** Webhooks: the `admin` role. */
export function webhookRouteDocs(): RouteDoc[] {
  return [
    {
      method: 'post', path: '/v1/webhooks', operationId: 'createWebhook', security: SECURITY.admin,
      summary: 'Create a webhook: signed POSTs (Standard Webhooks) of the events it names, from now on',
      request: { body: jsonBody(createWebhookSchema) },
      responses: { 201: json(createdWebhookSchema, 'created; the only answer that carries the secret'), ...errorResponses(400, 403, 413) },
    },
    {
      method: 'get', path: '/v1/webhooks', operationId: 'listWebhooks', security: SECURITY.admin, summary: 'Every webhook (without secrets)',
      responses: { 200: json(z.object({ items: z.array(webhookSchema) }), 'the webhooks'), ...errorResponses(403) },
    },
    {
      method: 'get', path: '/v1/webhooks/{id}', operationId: 'getWebhook', security: SECURITY.admin, summary: 'One webhook (without its secret)',
      request: { params: webhookIdParams },
      responses: { 200: json(webhookSchema, 'the webhook'), ...errorResponses(400, 403, 404) },
    },
    {
      method: 'delete', path: '/v1/webhooks/{id}', operationId: 'deleteWebhook', security: SECURITY.admin, summary: 'Delete a webhook (no more POSTs)',
      request: { params: webhookIdParams },
      responses: { 204: { description: 'deleted' }, ...errorResponses(400, 403, 404) },
    },
    {
      method: 'get', path: '/v1/webhooks/{id}/deliveries', operationId: 'listWebhookDeliveries', security: SECURITY.admin,
      summary: "The webhook's last 100 POSTs, newest first",
      request: { params: webhookIdParams },
      responses: { 200: json(z.object({ items: z.array(deliveryAttemptSchema) }), 'recent attempts'), ...errorResponses(400, 403, 404) },
    },
  ];
}
