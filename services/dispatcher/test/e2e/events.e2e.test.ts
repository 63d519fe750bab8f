import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY, as } from '../support/harness';
import { SseClient } from './support/sse-client';
import { WebhookReceiver } from './support/webhook-receiver';
import { ALL_STORES, b64, startStack, type Stack } from './support/stack';


describe.each(ALL_STORES)('end to end on %s: timelines, the live stream and webhooks (in-process services)', (backend) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), {
      name: 'e2e-events', backend,
      dispatcher: { queue: { backoffBaseMs: 50, backoffMaxMs: 100 }, api: { eventsKeepaliveMs: 300 }, webhooks: { pollMs: 100, leaseMs: 2_000, retryBaseMs: 50, retryMaxMs: 200, giveUpMs: 1_500 } },
    });
  });
  afterAll(async () => {
    await stack.stop();
  });

  it('shows a command retried twice then acked as queued, delivered x3, retrying x2, acked, each delivery with its replica', async () => {
    // BUSY for the first two attempts: the latency hook runs after each answer is decided, so the third is answered OK.
    let answered = 0;
    const device = await stack.device('TL-1', {
      busyRate: 1,
      ackLatencyMs: () => {
        answered += 1;
        if (answered === 2) device.setBehaviour({ busyRate: 0 });
        return 0;
      },
    });
    const id = await stack.enqueue({ phyId: 'TL-1', payload: b64('timeline'), maxAttempts: 5 });
    await stack.waitStatus(id, 'acked');
    const res = await request(stack.api.app).get(`/v1/commands/${id}/events`).set(as(SEND_KEY)).expect(200);
    const items = res.body.items as Array<{ type: string; commandId: string; attempt?: number; details: { replica?: string } }>;
    expect(items.map((e) => e.type)).toEqual([
      'command.queued', 'command.delivered', 'command.retrying', 'command.delivered', 'command.retrying', 'command.delivered', 'command.acked',
    ]);
    expect(items.every((e) => e.commandId === id)).toBe(true);
    const deliveries = items.filter((e) => e.type === 'command.delivered');
    expect(deliveries.map((e) => e.details.replica)).toEqual(['replica-0', 'replica-0', 'replica-0']);
    expect(deliveries.map((e) => e.attempt)).toEqual([1, 2, 3]);

    await request(stack.api.app).get('/v1/commands/6a1f3c1e-2b7d-4c1e-9f1a-3b5c7d9e1f20/events').set(as(SEND_KEY)).expect(404)
      .expect((r) => expect(r.body.code).toBe('COMMAND_NOT_FOUND'));
  });

  it('streams events over SSE; a client that hangs up mid-run and resumes with Last-Event-ID misses none and repeats none', async () => {
    const phyIds = ['SSE-1', 'SSE-2', 'SSE-3'];
    for (const phyId of phyIds) await stack.device(phyId);
    const url = `${stack.api.url}/v1/events?types=command.queued,command.acked`;
    const first = await SseClient.open(url, as(SEND_KEY));
    expect(first.status).toBe(200);
    const openStreams = async () => (await stack.api.metrics.eventStreams.get()).values[0]?.value;
    expect(await openStreams()).toBe(1);

    const send = async (from: number, count: number) => {
      const commands = Array.from({ length: count }, (_, i) => ({ phyId: phyIds[(from + i) % phyIds.length], payload: b64(`sse-${from + i}`) }));
      const res = await request(stack.api.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands }).expect(200);
      return res.body.results.map((r: { id: string }) => r.id) as string[];
    };
    const ids = await send(0, 200);
    await waitFor(() => first.events.length >= 100, { what: '100 streamed events' });
    await first.close();
    // The server's read loop ends with the client's connection.
    await waitFor(async () => (await openStreams()) === 0, { what: 'the stream to end on the server' });
    const resumeFrom = first.lastId!;
    // Sent while the client is away: it must get them on resuming.
    ids.push(...(await send(200, 200)));
    await stack.waitAllStatus(ids, 'acked', 30_000);

    const second = await SseClient.open(url, { ...as(SEND_KEY), 'Last-Event-ID': resumeFrom });
    expect(second.status).toBe(200);
    const wanted = ids.length * 2;
    await waitFor(() => first.events.length + second.events.length >= wanted, { timeoutMs: 15_000, what: `${wanted} streamed events` });
    await second.close();

    const all = [...first.events, ...second.events];
    const seen = all.map((e) => `${e.data.commandId}/${e.data.type}`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(new Set(all.map((e) => e.data.id)).size).toBe(all.length);
    const expected = ids.flatMap((id) => [`${id}/command.queued`, `${id}/command.acked`]);
    expect(seen.filter((s) => !expected.includes(s))).toEqual([]);
    expect(expected.filter((s) => !seen.includes(s))).toEqual([]);
    expect(all.every((e) => e.event === e.data.type)).toBe(true);

    // from=oldest: a new client reads what was written before it came, here one device's commands.
    const oldest = await SseClient.open(`${stack.api.url}/v1/events?from=oldest&phyId=SSE-1&types=command.acked`, as(SEND_KEY));
    const mine = ids.filter((_, i) => i % phyIds.length === 0);
    await waitFor(() => oldest.events.length >= mine.length, { what: `SSE-1's ${mine.length} acked events from the oldest` });
    // Idle now: the keepalive comment keeps it open (every 300 ms here).
    await waitFor(() => oldest.keepalives >= 2, { what: 'keepalive comments on an idle stream' });
    await oldest.close();
    expect(oldest.events.map((e) => e.data.commandId).sort()).toEqual([...mine].sort());
  }, 120_000);

  it('answers 400 naming the field for a bad type filter and a malformed cursor', async () => {
    const bad = await request(stack.api.app).get('/v1/events?types=command.acked,command.exploded').set(as(SEND_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('query.types.1');
    const cursor = await request(stack.api.app).get('/v1/events').set(as(SEND_KEY)).set('Last-Event-ID', 'not-a-cursor').expect(400);
    expect(cursor.body.errors[0].path).toBe('headers.last-event-id');
    const after = await request(stack.api.app).get('/v1/events?after=zz').set(as(SEND_KEY)).expect(400);
    expect(after.body.errors[0].path).toBe('query.after');
  });

  it('validates webhook bodies, naming the field', async () => {
    const post = (body: unknown) => request(stack.api.app).post('/v1/webhooks').set(as(ADMIN_KEY)).send(body as object).expect(400);
    expect((await post({ url: 'ftp://example.com/x', events: ['command.acked'] })).body.errors[0].path).toBe('url');
    expect((await post({ url: 'https://example.com/x', events: [] })).body.errors[0].path).toBe('events');
    expect((await post({ url: 'https://example.com/x', events: ['command.nope'] })).body.errors[0].path).toBe('events.0');
    expect((await post({ url: 'https://example.com/x', events: ['command.acked'], phyIdPrefix: 'no spaces' })).body.errors[0].path).toBe('phyIdPrefix');
    await request(stack.api.app).post('/v1/webhooks').set(as(SEND_KEY)).send({ url: 'https://example.com/x', events: ['command.acked'] }).expect(403);
  });

  it('delivers signed events to a webhook, lists its attempts, and disables it when the receiver answers 410', async () => {
    const receiver = new WebhookReceiver();
    await receiver.listen();
    try {
      await stack.device('HOOK-1');
      const created = await request(stack.api.app).post('/v1/webhooks').set(as(ADMIN_KEY))
        .send({ url: receiver.url, events: ['command.acked'], phyIdPrefix: 'HOOK-' }).expect(201);
      expect(created.body).toMatchObject({ url: receiver.url, events: ['command.acked'], phyIdPrefix: 'HOOK-', enabled: true });
      expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{40,}={0,2}$/);
      receiver.useSecret(created.body.secret as string);
      const hookId = created.body.id as string;

      const listed = await request(stack.api.app).get('/v1/webhooks').set(as(ADMIN_KEY)).expect(200);
      expect(listed.body.items.map((h: { id: string }) => h.id)).toContain(hookId);
      expect(listed.body.items.every((h: Record<string, unknown>) => !('secret' in h))).toBe(true);

      const id = await stack.enqueue({ phyId: 'HOOK-1', payload: b64('hook') });
      await waitFor(() => receiver.received.some((r) => r.data.commandId === id), { what: 'the acked event at the receiver' });
      expect(receiver.badSignatures).toEqual([]);
      const event = receiver.received.find((r) => r.data.commandId === id)!;
      expect(event).toMatchObject({ type: 'command.acked', data: { type: 'command.acked', phyId: 'HOOK-1', commandId: id } });
      expect(event.webhookId).toBe(event.data.id);

      const attempts = await request(stack.api.app).get(`/v1/webhooks/${hookId}/deliveries`).set(as(ADMIN_KEY)).expect(200);
      expect(attempts.body.items[0]).toMatchObject({ eventId: event.webhookId, attempt: 1, statusCode: 204, error: null });

      receiver.mode = 'gone';
      await stack.enqueue({ phyId: 'HOOK-1', payload: b64('gone') });
      await waitFor(async () => {
        const res = await request(stack.api.app).get(`/v1/webhooks/${hookId}`).set(as(ADMIN_KEY)).expect(200);
        return res.body.enabled === false ? res.body : null;
      }, { what: 'the webhook to be disabled' });
      const after = await request(stack.api.app).get(`/v1/webhooks/${hookId}`).set(as(ADMIN_KEY)).expect(200);
      expect(after.body.disabledReason).toMatch(/410/);
      expect(receiver.refused).toBe(1);

      await request(stack.api.app).delete(`/v1/webhooks/${hookId}`).set(as(ADMIN_KEY)).expect(204);
      await request(stack.api.app).get(`/v1/webhooks/${hookId}`).set(as(ADMIN_KEY)).expect(404).expect((r) => expect(r.body.code).toBe('WEBHOOK_NOT_FOUND'));
    } finally {
      await receiver.close();
    }
  });

  it('retries a failing event with backoff until the give-up time, records each attempt, then moves on', async () => {
    const receiver = new WebhookReceiver();
    await receiver.listen();
    try {
      await stack.device('GIVEUP-1');
      const created = await request(stack.api.app).post('/v1/webhooks').set(as(ADMIN_KEY))
        .send({ url: receiver.url, events: ['command.acked'], phyIdPrefix: 'GIVEUP-' }).expect(201);
      receiver.useSecret(created.body.secret as string);
      const hookId = created.body.id as string;
      const gaveUp = async () => (await stack.api.metrics.webhookDeliveries.get()).values.find((v) => v.labels.outcome === 'gave_up')?.value ?? 0;
      const before = await gaveUp();

      receiver.mode = 'unavailable';
      const lost = await stack.enqueue({ phyId: 'GIVEUP-1', payload: b64('refused') });
      await waitFor(async () => (await gaveUp()) > before, { what: 'the event to be given up' });
      receiver.mode = 'ok';
      const next = await stack.enqueue({ phyId: 'GIVEUP-1', payload: b64('after') });
      await waitFor(() => receiver.received.some((r) => r.data.commandId === next), { what: 'the next event at the receiver' });
      expect(receiver.received.some((r) => r.data.commandId === lost)).toBe(false);

      // The receiver holds the event before the dispatcher has its answer and records the attempt.
      const attempts = await waitFor(async () => {
        const items = (await request(stack.api.app).get(`/v1/webhooks/${hookId}/deliveries`).set(as(ADMIN_KEY)).expect(200)).body.items as Array<{ eventId: string; attempt: number; statusCode: number | null; at: string }>;
        return items[0]?.statusCode === 204 ? items : null;
      }, { what: 'the delivered attempt to be recorded' });
      const refused = attempts.filter((a) => a.statusCode === 503);
      // Newest first; one event, numbered from 1, spread over the give-up time (50 ms doubling, capped at 200 ms).
      expect(new Set(refused.map((a) => a.eventId)).size).toBe(1);
      expect(refused.map((a) => a.attempt)).toEqual(Array.from({ length: refused.length }, (_, i) => refused.length - i));
      expect(refused.length).toBeGreaterThanOrEqual(4);
      expect(Date.parse(refused[0]!.at) - Date.parse(refused.at(-1)!.at)).toBeGreaterThanOrEqual(1_000);
      expect(attempts[0]).toMatchObject({ statusCode: 204, attempt: 1 });
      await request(stack.api.app).delete(`/v1/webhooks/${hookId}`).set(as(ADMIN_KEY)).expect(204);
    } finally {
      await receiver.close();
    }
  });
});
