import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { EventType, OutboundEvent } from './events';

export { WebhookVerificationError };

/** The body of a webhook POST: the Standard Webhooks envelope around the event. */
export interface WebhookPayload {
  type: EventType;
  /** When the event happened (ISO-8601). */
  timestamp: string;
  /** The event, as the timeline and the live stream show it. */
  data: OutboundEvent;
}

/** Request headers as Node's http module or fetch's Headers give them. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * Checks a webhook delivery (Standard Webhooks: `webhook-id`, `webhook-timestamp` within five
 * minutes, `webhook-signature` an HMAC-SHA256 with the endpoint's `whsec_…` secret). Pass the body exactly as received (a string or the raw bytes, not re-serialized
 * JSON). Answers the parsed body, `{type, timestamp, data}` with the event in `data`. Throws
 * WebhookVerificationError when the signature or timestamp does not hold.
 */
export function verifyWebhook<T = WebhookPayload>(secret: string, body: string | Uint8Array, headers: WebhookHeaders): T {
  const flat: Record<string, string> = {};
  const entries: Iterable<[string, string | string[] | undefined]> = headers instanceof Headers ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  const payload = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return new Webhook(secret).verify(payload, flat) as T;
}
