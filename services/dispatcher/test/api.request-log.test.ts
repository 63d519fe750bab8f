import request from 'supertest';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { loadDispatcherConfig, startDispatcher, type RunningDispatcher } from '../src';
import { SEND_KEY, as, testDispatcherSettings } from './support/harness';
import { captureLogs, type LogLine } from './support/log-capture';

const payload = Buffer.from('set 16A').toString('base64');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function start(overrides: Record<string, unknown>, lines: ReturnType<typeof captureLogs>): Promise<RunningDispatcher> {
  const { config } = loadDispatcherConfig({ env: {}, overrides: testDispatcherSettings(testRedisUrl(), uniquePrefix('reqlog'), { worker: { enabled: false }, ...overrides }) });
  return startDispatcher(config, { logger: lines.logger });
}

const accessLines = (lines: LogLine[], requestId?: string) =>
  lines.filter((l) => l.route !== undefined && l.status !== undefined && (requestId === undefined || l.requestId === requestId));

describe('dispatcher request ids and access log (real HTTP, real pino stream)', () => {
  const logs = captureLogs('dispatcher');
  let d: RunningDispatcher;
  beforeAll(async () => {
    // The per-key rate limit off: its store round trip would come between a request's arrival
    // and its route, and the abandoned-poll test hangs up as soon as the route is waiting.
    d = await start({ rateLimit: { send: 0, admin: 0 } }, logs);
  });
  afterAll(() => d.stop());

  it('answers with the caller\'s X-Request-Id and logs it on the access line and the enqueue line', async () => {
    const res = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).set('X-Request-Id', 'abc').send({ phyId: 'LOG-1', payload }).expect(202);
    expect(res.headers['x-request-id']).toBe('abc');
    const [access] = accessLines(logs.lines, 'abc');
    expect(access).toMatchObject({ level: 'info', method: 'POST', route: '/v1/commands', status: 202, role: 'send', durationMs: expect.any(Number) });
    expect(JSON.stringify(access)).not.toContain(SEND_KEY);
    const accepted = logs.lines.find((l) => l.msg === 'command accepted' && l.commandId === res.body.id);
    expect(accepted).toMatchObject({ level: 'info', requestId: 'abc', phyId: 'LOG-1', attempt: 0, status: 'queued' });
  });

  it('logs the route pattern, not the raw URL', async () => {
    const created = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'LOG-2', payload }).expect(202);
    const res = await request(d.app).get(`/v1/commands/${created.body.id}`).set(as(SEND_KEY)).expect(200);
    const [access] = accessLines(logs.lines, res.headers['x-request-id']);
    expect(access).toMatchObject({ method: 'GET', route: '/v1/commands/:id', status: 200 });
  });

  it('echoes the id on problem+json errors and logs them at warn, with no key', async () => {
    const res = await request(d.app).post('/v1/commands').set('X-Request-Id', 'err-1').send({ phyId: 'LOG-1', payload }).expect(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.headers['x-request-id']).toBe('err-1');
    // The key is checked before any route matches, so a 401 names no route pattern.
    expect(accessLines(logs.lines, 'err-1')[0]).toMatchObject({ level: 'warn', status: 401, route: 'unmatched' });
    const missing = await request(d.app).get('/no/such/path').set('X-Request-Id', 'err-2').expect(404);
    expect(missing.headers['x-request-id']).toBe('err-2');
    expect(accessLines(logs.lines, 'err-2')[0]).toMatchObject({ status: 404, route: 'unmatched' });
  });

  it('logs and counts a long-poll the caller hung up on as 499, not as the 200 never sent', async () => {
    const created = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'LOG-3', payload }).expect(202);
    const controller = new AbortController();
    // The poll is in its route handler (which waits up to 5 s) once the server has dispatched it and a turn has passed.
    const arrived = new Promise((resolve) => d.server.once('request', resolve));
    const polling = fetch(`${d.url}/v1/commands/${created.body.id}?waitMs=5000`, { headers: { ...as(SEND_KEY), 'X-Request-Id': 'gone-1' }, signal: controller.signal });
    await arrived;
    await new Promise((r) => setImmediate(r));
    controller.abort();
    await expect(polling).rejects.toThrow();
    const line = await waitFor(() => accessLines(logs.lines, 'gone-1')[0], { what: 'the access line of the abandoned poll' });
    expect(line).toMatchObject({ level: 'warn', status: 499, route: '/v1/commands/:id' });
    const text = (await request(d.app).get('/metrics').expect(200)).text;
    expect(text).toMatch(/outbound_http_requests_total\{[^}]*route="\/v1\/commands\/:id"[^}]*status="499"[^}]*\} 1/);
  });

  it('replaces a missing, overlong or odd request id with a UUID', async () => {
    const none = await request(d.app).get('/healthz').expect(200);
    expect(none.headers['x-request-id']).toMatch(UUID);
    const long = await request(d.app).get('/healthz').set('X-Request-Id', 'a'.repeat(129)).expect(200);
    expect(long.headers['x-request-id']).toMatch(UUID);
    const odd = await request(d.app).get('/healthz').set('X-Request-Id', 'a b"<script>').expect(200);
    expect(odd.headers['x-request-id']).toMatch(UUID);
    const max = await request(d.app).get('/healthz').set('X-Request-Id', 'b'.repeat(128)).expect(200);
    expect(max.headers['x-request-id']).toBe('b'.repeat(128));
  });
});

describe('dispatcher access-log volume under load', () => {
  const logs = captureLogs('dispatcher');
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await start({ log: { successSampleRate: 1, successMaxPerSecond: 3 } }, logs);
  });
  afterAll(() => d.stop());

  it('caps success lines per second, never 4xx lines, and counts what it left out', async () => {
    // Requests issued back to back in well under a second: one window of the cap.
    const started = Date.now();
    for (let i = 0; i < 10; i += 1) await request(d.app).get('/healthz').set('X-Request-Id', `ok-${i}`).expect(200);
    for (let i = 0; i < 10; i += 1) await request(d.app).get('/v1/stats').set('X-Request-Id', `bad-${i}`).expect(401);
    const elapsed = Date.now() - started;
    const ok = logs.lines.filter((l) => String(l.requestId).startsWith('ok-'));
    const bad = logs.lines.filter((l) => String(l.requestId).startsWith('bad-'));
    expect(bad).toHaveLength(10);
    // At most the cap per started second.
    expect(ok.length).toBeLessThanOrEqual(3 * (Math.floor(elapsed / 1_000) + 1));
    const metrics = await request(d.app).get('/metrics').expect(200);
    const dropped = /outbound_log_lines_dropped_total\{kind="access",service="dispatcher"\} (\d+)/.exec(metrics.text);
    expect(Number(dropped?.[1])).toBe(10 - ok.length);
  });
});
