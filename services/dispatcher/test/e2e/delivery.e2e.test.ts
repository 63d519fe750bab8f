import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { SEND_KEY, as } from '../support/harness';
import { BACKENDS, b64, startStack, type Stack } from './support/stack';

describe.each(BACKENDS)('end to end on %s: dispatcher + ingress + simulated devices over real TCP', (backend) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-delivery', backend });
  });
  afterAll(() => stack.stop());

  it('delivers a command to its device and shows the device result through GET', async () => {
    const device = await stack.device('E2E-1', { result: (_id, payload) => Buffer.from(`done:${payload.toString()}`) });
    const started = Date.now();
    const res = await request(stack.api.app).post('/v1/commands?waitMs=5000').set(as(SEND_KEY)).send({ phyId: 'E2E-1', payload: b64('set 16A') });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ phyId: 'E2E-1', status: 'acked', attempts: 1, lastError: null });
    expect(Buffer.from(res.body.result, 'base64').toString()).toBe('done:set 16A');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(device.appliedIds).toEqual([res.body.id]);
    const read = await stack.get(res.body.id);
    expect(read.status).toBe('acked');
  });

  it('records REJECTED as rejected without a retry, and the device result', async () => {
    const device = await stack.device('E2E-REJ', { rejectRate: 1, result: () => Buffer.from('bad value') });
    const id = await stack.enqueue({ phyId: 'E2E-REJ', payload: b64('set 999A') });
    const c = await stack.waitStatus(id, 'rejected');
    expect(c.attempts).toBe(1);
    expect(device.stats.received).toBe(1);
  });

  it('retries BUSY with backoff until the device takes it', async () => {
    const device = await stack.device('E2E-BUSY', { busyRate: 1 });
    const id = await stack.enqueue({ phyId: 'E2E-BUSY', payload: b64('x'), maxAttempts: 10 });
    // Two BUSY answers from the device, not two attempts in the store: an attempt is counted at the claim, so the
    // second could still be on its way when busyRate went to 0 and be taken (attempts 2; failed an in-band full run).
    await waitFor(() => device.stats.busy >= 2, { what: 'two BUSY answers' });
    const mid = await stack.get(id);
    expect(mid.status).toMatch(/queued|inflight/);
    device.setBehaviour({ busyRate: 0 });
    const done = await stack.waitStatus(id, 'acked');
    expect(done.attempts).toBeGreaterThanOrEqual(3);
    expect(device.appliedCount(id)).toBe(1);
  });

  it('retries a missing ACK (timeout) and the device applies the command once', async () => {
    const device = await stack.device('E2E-NOACK', { noAckRate: 1 });
    const id = await stack.enqueue({ phyId: 'E2E-NOACK', payload: b64('x'), ackTimeoutMs: 300, maxAttempts: 10 });
    await waitFor(async () => (await stack.get(id)).attempts >= 2, { what: 'a retry after an ACK timeout' });
    device.setBehaviour({ noAckRate: 0 });
    const done = await stack.waitStatus(id, 'acked');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(device.stats.duplicates).toBeGreaterThanOrEqual(1);
    expect(device.appliedCount(id)).toBe(1);
  });

  it('dead-letters after maxAttempts with the reason, and a replay delivers it', async () => {
    const device = await stack.device('E2E-DEAD', { busyRate: 1 });
    const id = await stack.enqueue({ phyId: 'E2E-DEAD', payload: b64('x'), maxAttempts: 3 });
    const dead = await stack.waitStatus(id, 'dead');
    expect(dead.attempts).toBe(3);
    expect(String(dead.lastError)).toMatch(/BUSY/);
    device.setBehaviour({ busyRate: 0 });
    const replay = await request(stack.api.app).post('/v1/dead-letters/replay').set(as('admin-key-0123456789')).send({ ids: [id] }).expect(200);
    expect(replay.body.replayed).toBe(1);
    const acked = await stack.waitStatus(id, 'acked');
    expect(acked.attempts).toBe(1);
    expect(device.appliedCount(id)).toBe(1);
  });

  it('keeps an offline device\'s commands queued without spending attempts, and delivers within 1 s of connecting', async () => {
    const ids = [await stack.enqueue({ phyId: 'E2E-OFF', payload: b64('a') }), await stack.enqueue({ phyId: 'E2E-OFF', payload: b64('b') })];
    const parked = await waitFor(async () => {
      const c = await stack.get(ids[0]!);
      return c.waitingFor === 'device' ? c : null;
    }, { what: 'the command to wait for its device' });
    expect(parked).toMatchObject({ status: 'queued', attempts: 0 });
    expect((await stack.get(ids[1]!)).attempts).toBe(0);

    const applied: number[] = [];
    const device = await stack.device('E2E-OFF');
    const connectedAt = Date.now();
    device.on('ack', () => applied.push(Date.now()));
    await waitFor(() => applied.length === 2, { what: 'both commands delivered', timeoutMs: 5_000 });
    expect(applied[0]! - connectedAt).toBeLessThan(1_000);
    for (const id of ids) expect((await stack.waitStatus(id, 'acked')).attempts).toBe(1);
    expect(device.appliedIds).toEqual(ids);
  });

  it('resumes a parked device through the periodic check when its online signal was lost', async () => {
    const resumed = async (via: string) => (await stack.api.metrics.devicesResumed.get()).values.find((v) => v.labels.via === via)?.value ?? 0;
    const signals = await resumed('signal');
    const device = await stack.device('E2E-LOST');
    // Let the connection's own online signal land first, so it cannot be what unparks the device below.
    await waitFor(async () => (await resumed('signal')) > signals, { what: 'the online signal of the connection' });
    const before = await resumed('check');
    // As if the device had been parked and its "online" signal never arrived: only the check can unpark it.
    await stack.api.queue.markDeviceOffline('E2E-LOST');
    const id = await stack.enqueue({ phyId: 'E2E-LOST', payload: b64('x') });
    const acked = await stack.waitStatus(id, 'acked', 5_000);
    expect(acked.attempts).toBe(1);
    expect(device.appliedIds).toEqual([id]);
    expect(await resumed('check')).toBeGreaterThan(before);
  });

  it('expires a command whose TTL passes while its device is offline', async () => {
    const id = await stack.enqueue({ phyId: 'E2E-TTL', payload: b64('x'), ttlMs: 400 });
    const expired = await stack.waitStatus(id, 'expired', 5_000);
    expect(expired.attempts).toBe(0);
    // Connecting afterwards delivers nothing.
    const device = await stack.device('E2E-TTL');
    const probe = await stack.enqueue({ phyId: 'E2E-TTL', payload: b64('y') });
    await stack.waitStatus(probe, 'acked');
    expect(device.appliedIds).toEqual([probe]);
  });

  it('keeps one device\'s order (priority, then enqueue order) under retries', async () => {
    // Queued while the device is offline so the whole line is decided by the queue, then delivered through BUSY retries.
    const sent: Array<{ id: string; priority: number; seq: number }> = [];
    for (let i = 0; i < 9; i += 1) {
      const priority = [3, 7, 5][i % 3]!;
      sent.push({ id: await stack.enqueue({ phyId: 'E2E-ORDER', payload: b64(`n${i}`), priority, maxAttempts: 50 }), priority, seq: i });
    }
    // Every answer is BUSY until the head of the line has been retried a few times, then the device takes everything:
    // the retried head must still go first, and the rest follow in order (a random busyRate left no retry in ~4% of runs).
    const device = await stack.device('E2E-ORDER', { busyRate: 1 });
    await waitFor(() => device.stats.busy >= 3, { what: 'three BUSY answers' });
    expect(device.stats.applied).toBe(0);
    device.setBehaviour({ busyRate: 0 });
    await stack.waitAllStatus(sent.map(({ id }) => id), 'acked', 20_000);
    const expected = [...sent].sort((a, b) => b.priority - a.priority || a.seq - b.seq).map((c) => c.id);
    expect(device.appliedIds).toEqual(expected);
    expect((await stack.get(expected[0]!)).attempts).toBeGreaterThanOrEqual(3);
  });

  it('exports what happened as metrics', async () => {
    const text = (await request(stack.api.app).get('/metrics').expect(200)).text;
    expect(text).toMatch(/outbound_dispatcher_delivered_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_delivered_total\{[^}]*outcome="busy"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_dead_lettered_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_retries_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_expired_total\{[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_enqueue_to_ack_seconds_count\{[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_delivery_call_seconds_count\{[^}]*kind="batch"[^}]*\} [1-9]/);
    expect(text).toMatch(/outbound_dispatcher_queue_depth\{[^}]*state="pending"[^}]*\} \d+/);
    expect(text).toMatch(/outbound_dispatcher_enqueued_total\{[^}]*source="single"[^}]*\} [1-9]/);
  });
});
