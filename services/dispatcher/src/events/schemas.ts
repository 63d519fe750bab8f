/**
 * Request and response shapes of the event routes (timelines, the live stream, webhooks), as zod
 * schemas: the routes validate with them and the OpenAPI document describes them from the same source.
 */
import { z } from 'zod';
import { EVENT_TYPES, phyIdSchema } from '@outbound/core';

/** Cursors are printable, without spaces, at most 1,024 characters (`LoggedEvent.cursor`). */
export const eventCursorSchema = z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters').regex(/^[\x21-\x7e]+$/, 'must be a cursor from an event id (printable, no spaces)');

/** A comma-separated list of event types, each one of EVENT_TYPES. */
export const eventTypeListSchema = z
  .string()
  .transform((text) => text.split(',').map((t) => t.trim()).filter((t) => t.length > 0))
  .pipe(z.array(z.enum(EVENT_TYPES, { error: `each type must be one of ${EVENT_TYPES.join(', ')}` })).min(1, 'must name at least one event type'));

export const eventStreamQuerySchema = z.strictObject({
  types: eventTypeListSchema.optional(),
  phyId: phyIdSchema.optional(),
  after: eventCursorSchema.optional(),
  from: z.literal('oldest', 'must be "oldest" (or leave it out to start at the head)').optional(),
});

export const eventSchema = z.object({
  id: z.string(),
  type: z.enum(EVENT_TYPES),
  time: z.number().int().describe('store clock, epoch ms'),
  commandId: z.string().optional(),
  phyId: z.string(),
  attempt: z.number().int().optional(),
  details: z.object({
    replica: z.string().optional(),
    reason: z.string().optional(),
    retryAt: z.number().int().optional(),
    priority: z.number().int().optional(),
  }),
});

export const timelineSchema = z.object({ items: z.array(eventSchema) });

/** A webhook's event filter: phyId prefixes follow the phyId alphabet. */
export const phyIdPrefixSchema = z.string().max(64, 'must be at most 64 characters').regex(/^[A-Za-z0-9._:-]*$/, 'may hold only the characters of a phyId (A-Z a-z 0-9 . _ : -)');

export const createWebhookSchema = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' })
    .max(2048, 'must be at most 2048 characters'),
  events: z
    .array(z.enum(EVENT_TYPES, { error: `each event must be one of ${EVENT_TYPES.join(', ')}` }))
    .min(1, 'must name at least one event type')
    .max(EVENT_TYPES.length)
    .transform((types) => [...new Set(types)]),
  phyIdPrefix: phyIdPrefixSchema.optional(),
});
export type CreateWebhookRequest = z.infer<typeof createWebhookSchema>;

export const webhookIdSchema = z.uuid('must be a webhook id (UUID)');

export const webhookSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.enum(EVENT_TYPES)),
  phyIdPrefix: z.string().nullable(),
  enabled: z.boolean(),
  disabledReason: z.string().nullable().describe('why the webhook stopped (a 410 from the receiver), null while enabled'),
  createdAt: z.string().describe('ISO-8601'),
});

export const createdWebhookSchema = webhookSchema.extend({
  secret: z.string().describe('whsec_<base64>: the signing secret, shown only in this answer'),
});

export const webhookListSchema = z.object({ items: z.array(webhookSchema) });

export const deliveryAttemptSchema = z.object({
  eventId: z.string(),
  attempt: z.number().int().describe('1 for the first POST of this event, counting up per retry'),
  at: z.string().describe('ISO-8601, when the POST started'),
  statusCode: z.number().int().nullable().describe('the receiver\'s status, null when no answer came (timeout, refused)'),
  error: z.string().nullable(),
  durationMs: z.number().int(),
});

export const deliveryListSchema = z.object({ items: z.array(deliveryAttemptSchema) });

export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;
