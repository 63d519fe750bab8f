import { randomBytes } from 'node:crypto';
import { Agent } from 'undici';
import { Webhook } from 'standardwebhooks';
import { toError, type OutboundEvent } from '@outbound/core';
import { eventView } from '../events/event-view';

/** A new signing secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The body of every webhook POST: the Standard Webhooks envelope, `type` and `timestamp`
 * (ISO-8601, when the event happened) around `data`, the event as the timeline and the live
 * stream show it.
 */
export function webhookBody(event: OutboundEvent): string {
  return JSON.stringify({ type: event.type, timestamp: new Date(event.time).toISOString(), data: eventView(event) });
}

/** What one POST came to. */
export interface PostResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * POSTs signed events over a shared keep-alive connection pool (undici Agent: a pool per
 * receiver origin). Each POST is signed anew (a fresh `webhook-timestamp`), with the event id as
 * `webhook-id`, the same on every retry, so receivers can drop repeats.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly options: { timeoutMs: number; connectionsPerOrigin?: number }) {
    this.agent = new Agent({ connections: options.connectionsPerOrigin ?? 16, keepAliveTimeout: 30_000, connectTimeout: Math.min(options.timeoutMs, 5_000) });
  }

  async post(url: string, secret: string, event: OutboundEvent, signal?: AbortSignal): Promise<PostResult> {
    const body = webhookBody(event);
    const now = new Date();
    const signature = new Webhook(secret).sign(event.id, now, body);
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const answer = await this.agent.request({
        origin: new URL(url).origin,
        path: pathOf(url),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'outbound-webhooks',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      // The answer's body is not read, only drained (so the connection is reused), and no more of it than a small page.
      await answer.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      return { statusCode: answer.statusCode, error: null, durationMs: elapsed() };
    } catch (error) {
      const message = timeout.aborted ? `no answer within ${this.options.timeoutMs} ms` : toError(error).message;
      return { statusCode: null, error: message, durationMs: elapsed() };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}
