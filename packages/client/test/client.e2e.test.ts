import { Webhook } from 'standardwebhooks';
import { testRedisUrl } from '@outbound/test-support';
import { OutboundApiError, OutboundClient, verifyWebhook, WebhookVerificationError, type BatchFailed } from '@outbound/client';
import { ADMIN_KEY, SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';

const refused = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected a refusal'); }, (error: unknown) => error as OutboundApiError);

describe('@outbound/client against a running stack (dispatcher, ingress, simulated devices)', () => {
  let stack: Stack;
  let client: OutboundClient;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'client-e2e' });
    client = new OutboundClient({ baseUrl: stack.api.url, apiKey: SEND_KEY });
  });
  afterAll(() => stack.stop());

  it('sends a command to a connected device and reads it back acked with the device result', async () => {
    await stack.device('CLIENT-ACK', { result: (_id, payload) => Buffer.concat([Buffer.from('ok:'), payload]) });
    const sent = await client.send({ phyId: 'CLIENT-ACK', payload: Buffer.from('hello'), priority: 7 });
    expect(sent).toMatchObject({ status: 'queued', duplicate: false });
    const done = await client.get(sent.id, { waitMs: 10_000 });
    expect(done).toMatchObject({ id: sent.id, status: 'acked', priority: 7 });
    expect(Buffer.from(done.result!, 'base64').toString()).toBe('ok:hello');
    const timeline = await client.timeline(sent.id);
    expect(timeline.map((e) => e.type)).toEqual(['command.queued', 'command.delivered', 'command.acked']);
    expect(timeline[1]).toMatchObject({ commandId: sent.id, attempt: 1, details: { replica: 'replica-0' } });
  });

  it('sendAndWait answers the terminal command, or the pending one when the time runs out', async () => {
    await stack.device('CLIENT-WAIT');
    const acked = await client.sendAndWait({ phyId: 'CLIENT-WAIT', payload: 'aGk=' }, { timeoutMs: 10_000 });
    expect(acked).toMatchObject({ status: 'acked', attempts: 1, duplicate: false });

    const started = Date.now();
    const later = Date.now() + 60_000;
    const pending = await client.sendAndWait({ phyId: 'CLIENT-WAIT', payload: 'aGk=', deliverAt: later }, { timeoutMs: 300 });
    expect(pending).toMatchObject({ status: 'queued', waitingFor: 'schedule', deliverAt: new Date(later).toISOString() });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('sends a batch whose items answer on their own, typed', async () => {
    const result = await client.send([
      { phyId: 'CLIENT-BATCH', payload: Buffer.from([1, 2, 3]) },
      { phyId: 'CLIENT-BATCH', payload: 'aGk=', maxAttempts: 1000 },
    ]);
    expect(result).toMatchObject({ accepted: 1, failed: 1 });
    expect(result.results[0]).toMatchObject({ index: 0, status: 'queued', duplicate: false });
    const failed = result.results[1] as BatchFailed;
    expect(failed).toMatchObject({ index: 1, code: 'VALIDATION_FAILED', status: 400 });
    expect(failed.errors?.[0]?.path).toBe('commands.1.maxAttempts');

    await stack.device('CLIENT-BATCH-WAIT');
    const waited = await client.send([{ phyId: 'CLIENT-BATCH-WAIT', payload: 'aGk=' }, { phyId: 'CLIENT-BATCH-WAIT', payload: 'aG8=' }], { waitMs: 10_000 });
    expect(waited.results.map((r) => ('status' in r ? r.status : null))).toEqual(['acked', 'acked']);
  });

  it('cancels a queued command; cancelling an acked one is INVALID_STATE', async () => {
    // Scheduled for later, so it stays queued until cancelled.
    const sent = await client.send({ phyId: 'CLIENT-CANCEL', payload: 'aGk=', deliverAt: new Date(Date.now() + 60_000).toISOString() }, { idempotencyKey: 'cancel-me' });
    expect((await client.cancel(sent.id)).status).toBe('cancelled');
    await stack.device('CLIENT-CANCEL-2');
    const acked = await client.sendAndWait({ phyId: 'CLIENT-CANCEL-2', payload: 'aGk=' }, { timeoutMs: 10_000 });
    expect(acked.status).toBe('acked');
    const error = await refused(client.cancel(acked.id));
    expect(error).toBeInstanceOf(OutboundApiError);
    expect(error).toMatchObject({ status: 409, code: 'INVALID_STATE' });
  });

  it('throws OutboundApiError with the code, status, message and fields of the problem answer', async () => {
    const invalid = await refused(client.send({ phyId: 'bad id!', payload: 'aGk=', priority: 12 }));
    expect(invalid).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(invalid.fields.map((f) => f.path).sort()).toEqual(['phyId', 'priority']);
    expect(invalid.message).toMatch(/priority/);

    expect(await refused(client.get('00000000-0000-4000-8000-000000000000'))).toMatchObject({ status: 404, code: 'COMMAND_NOT_FOUND' });
    expect(await refused(client.stats())).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(await refused(new OutboundClient({ baseUrl: stack.api.url, apiKey: 'wrong-key-0123456789' }).get('x'))).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    const unreachable = await refused(new OutboundClient({ baseUrl: 'http://127.0.0.1:1', apiKey: SEND_KEY }).get('x'));
    expect(unreachable).toMatchObject({ status: 0, code: 'UNREACHABLE' });
  });

  it('lists the history newest first, page after page, and by status', async () => {
    // Scheduled for later, so they stay queued.
    const later = Date.now() + 300_000;
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await client.send({ phyId: 'CLIENT-LIST', payload: Buffer.from([i]), deliverAt: later })).id);
    await client.cancel(ids[1]!);

    const listed: string[] = [];
    for await (const command of client.list({ phyId: 'CLIENT-LIST', pageSize: 2 })) listed.push(command.id);
    expect(listed).toEqual([...ids].reverse());

    const cancelled: string[] = [];
    for await (const command of client.list({ phyId: 'CLIENT-LIST', status: 'cancelled', since: new Date(Date.now() - 60_000) })) cancelled.push(command.id);
    expect(cancelled).toEqual([ids[1]]);
  });

  it('reads the device and the stats with an admin key', async () => {
    const admin = new OutboundClient({ baseUrl: stack.api.url, apiKey: ADMIN_KEY });
    await stack.device('CLIENT-DEVICE');
    expect(await admin.device('CLIENT-DEVICE')).toMatchObject({ phyId: 'CLIENT-DEVICE', online: true, credentials: { key: 'derived', revoked: false } });
    expect((await admin.stats()).total.pending).toBeGreaterThanOrEqual(0);
  });
});

describe('verifyWebhook', () => {
  const secret = `whsec_${Buffer.from('a webhook secret of 32 bytes ok!').toString('base64')}`;
  const body = JSON.stringify({ type: 'command.acked', timestamp: new Date(1).toISOString(), data: { id: '0-1-0', type: 'command.acked', time: 1, commandId: 'c', phyId: 'DEV', details: {} } });
  const signed = () => {
    const at = new Date();
    return { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', at, body) };
  };

  it('answers the event of a delivery signed with the secret, from plain or fetch headers', () => {
    expect(verifyWebhook(secret, body, signed())).toMatchObject({ type: 'command.acked', data: { phyId: 'DEV' } });
    expect(verifyWebhook(secret, Buffer.from(body), new Headers(signed())).data).toMatchObject({ commandId: 'c' });
  });

  it('refuses a changed body, another secret and an old timestamp', () => {
    expect(() => verifyWebhook(secret, body.replace('acked', 'dead'), signed())).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(`whsec_${Buffer.from('another secret of 32 bytes, too!').toString('base64')}`, body, signed())).toThrow(WebhookVerificationError);
    const old = new Date(Date.now() - 10 * 60_000);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(old.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', old, body) };
    expect(() => verifyWebhook(secret, body, headers)).toThrow(WebhookVerificationError);
  });
});
