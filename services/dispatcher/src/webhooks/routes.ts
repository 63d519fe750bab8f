import { randomUUID } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { OutboundError, parseOrThrow, type EventLog } from '@outbound/core';
import { createWebhookSchema, webhookIdParams } from '../schemas/events';
import { newWebhookSecret } from './sender';
import type { WebhookRecord, WebhookStore } from './store';

export interface WebhookRoutesDeps {
  store: WebhookStore;
  /** Where a new webhook's deliveries start: the log's head when it is created. */
  events: EventLog;
  /** Runs before each route (authentication with the `admin` role). */
  guard: RequestHandler;
}

/** A webhook as the API shows it: never its secret (only the create answer carries that). */
function webhookView(hook: WebhookRecord) {
  return {
    id: hook.id,
    url: hook.url,
    events: hook.events,
    phyIdPrefix: hook.phyIdPrefix,
    enabled: hook.enabled,
    disabledReason: hook.disabledReason,
    createdAt: new Date(hook.createdAt).toISOString(),
  };
}

/** POST, GET and DELETE /v1/webhooks(/:id), GET /v1/webhooks/:id/deliveries: the `admin` role. */
export function registerWebhookRoutes(app: Express, deps: WebhookRoutesDeps): void {
  const { store } = deps;
  const found = async (params: unknown) => {
    const { id } = parseOrThrow(webhookIdParams, params);
    const hook = await store.get(id);
    if (!hook) throw new OutboundError('WEBHOOK_NOT_FOUND', `no webhook ${id}`);
    return hook;
  };

  app.post('/v1/webhooks', deps.guard, async (req, res) => {
    const body = parseOrThrow(createWebhookSchema, req.body);
    const hook: WebhookRecord = {
      id: randomUUID(),
      url: body.url,
      events: body.events,
      phyIdPrefix: body.phyIdPrefix ? body.phyIdPrefix : null,
      enabled: true,
      disabledReason: null,
      createdAt: Date.now(),
      secret: newWebhookSecret(),
    };
    // Events from now on: a new webhook is not sent the log's history.
    await store.create(hook, await deps.events.eventsHead());
    res.status(201).location(`/v1/webhooks/${hook.id}`).json({ ...webhookView(hook), secret: hook.secret });
  });

  app.get('/v1/webhooks', deps.guard, async (_req, res) => {
    res.json({ items: (await store.list()).map(webhookView) });
  });

  app.get('/v1/webhooks/:id', deps.guard, async (req, res) => {
    res.json(webhookView(await found(req.params)));
  });

  app.delete('/v1/webhooks/:id', deps.guard, async (req, res) => {
    const { id } = parseOrThrow(webhookIdParams, req.params);
    if (!(await store.delete(id))) throw new OutboundError('WEBHOOK_NOT_FOUND', `no webhook ${id}`);
    res.status(204).end();
  });

  app.get('/v1/webhooks/:id/deliveries', deps.guard, async (req, res) => {
    const hook = await found(req.params);
    const attempts = await store.attempts(hook.id);
    res.json({ items: attempts.map((a) => ({ ...a, at: new Date(a.at).toISOString() })) });
  });
}
