import request from 'supertest';
import { RawHttpConnection, requestHead, testRedisUrl, waitFor } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1_000;
const MAX_CONNECTIONS = 6;
/** The size of body the review measured at 1 s of event loop and 38 MB when parsed before the 401. */
const BIG_BODY_BYTES = 7_200_000;

/**
 * What a caller without a key can cost the public API: headers only. The body is not read
 * before authentication, slow clients are cut off by the header and request timeouts, and
 * connections beyond the cap are refused.
 */
describe('public API before authentication (real server, raw sockets)', () => {
  let d: RunningDispatcher;
  const open: RawHttpConnection[] = [];
  const connect = async () => {
    const c = await RawHttpConnection.open(d.httpPort);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), {
      worker: { enabled: false },
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxConnections: MAX_CONNECTIONS },
    }, 'pre-auth');
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
  });
  afterAll(() => d.stop());

  it('answers a 7 MB body without a key with 401 after its first 64 KB, and closes instead of reading the rest', async () => {
    const c = await connect();
    c.write(requestHead('POST', '/v1/commands', { 'Content-Type': 'application/json', 'Content-Length': BIG_BODY_BYTES }));
    c.write(Buffer.alloc(64 * 1024, '{'));
    await waitFor(() => c.closed, { timeoutMs: 2_000, what: 'the server to close the connection' });
    expect(c.status).toBe(401);
    expect(c.received).toMatch(/\r\nconnection: close\r\n/i);
    expect(c.received).toContain('"UNAUTHORIZED"');
    // Well inside the request timeout: the server did not wait for the 7 MB it was promised.
    expect(c.closedAt! - c.openedAt).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
  });

  it('answers a whole 7 MB malformed body without a key with 401, never the parser\'s 400', async () => {
    // An unterminated string: the parser reads all of it before it can fail.
    const body = `{"payload":"${'a'.repeat(BIG_BODY_BYTES)}`;
    const res = await request(d.app).post('/v1/commands').set('Content-Type', 'application/json').send(body).ok(() => true);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('UNAUTHORIZED');
    // The same body with a key reaches the parser, which is what a missing key must never cost.
    const parsed = await request(d.app).post('/v1/commands').set(as(SEND_KEY)).set('Content-Type', 'application/json').send(body);
    expect(parsed.status).toBe(400);
  });

  it('drops a client that dribbles its headers, at the headers timeout', async () => {
    const c = await connect();
    c.write('POST /v1/commands HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const dribble = setInterval(() => c.write('X-Slow: 1\r\n'), 50);
    try {
      await waitFor(() => c.closed, { timeoutMs: HEADERS_TIMEOUT_MS * 4, what: 'the headers timeout to close the connection' });
    } finally {
      clearInterval(dribble);
    }
    expect(c.closedAt! - c.openedAt).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect([408, null]).toContain(c.status);
  });

  it('drops a client with a key that dribbles its body, at the request timeout', async () => {
    const c = await connect();
    c.write(requestHead('POST', '/v1/commands', { ...as(SEND_KEY), 'Content-Type': 'application/json', 'Content-Length': 10_000 }));
    const dribble = setInterval(() => c.write(' '), 50);
    try {
      await waitFor(() => c.closed, { timeoutMs: REQUEST_TIMEOUT_MS * 3, what: 'the request timeout to close the connection' });
    } finally {
      clearInterval(dribble);
    }
    expect(c.closedAt! - c.openedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect([408, null]).toContain(c.status);
  });

  it('keeps an idle keep-alive connection longer than both timeouts (pooled callers are not cut off)', async () => {
    const c = await connect();
    c.write(requestHead('GET', '/v1/stats', as(ADMIN_KEY)));
    await waitFor(() => c.status === 200, { what: 'the first answer' });
    // Deliberately idle past both timeouts: only a request in progress is timed.
    await new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT_MS + 500));
    expect(c.closed).toBe(false);
    c.received = '';
    c.write(requestHead('GET', '/v1/stats', as(ADMIN_KEY)));
    await waitFor(() => c.status === 200, { what: 'the second answer on the same connection' });
  });

  it('turns Nagle\'s algorithm off on every API connection, as the ingress does', () => {
    // net.Server keeps its noDelay option (untyped) and sets TCP_NODELAY on each socket it
    // accepts: a small write (an event stream's line) then leaves at once instead of waiting for
    // the caller's ACK of the one before.
    expect((d.server as unknown as { noDelay?: boolean }).noDelay).toBe(true);
  });

  it('closes connections beyond the cap at once, and accepts again when one is freed', async () => {
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect()));
    await waitFor(async () => (await new Promise<number>((resolve) => d.server.getConnections((_e, n) => resolve(n)))) === MAX_CONNECTIONS, { what: 'the server to hold the cap' });
    const extra = await connect();
    extra.write(requestHead('GET', '/healthz', {}));
    await waitFor(() => extra.closed, { timeoutMs: HEADERS_TIMEOUT_MS / 2, what: 'the connection over the cap to be closed' });
    expect(extra.status).toBeNull();
    held[0]!.destroy();
    await waitFor(async () => (await new Promise<number>((resolve) => d.server.getConnections((_e, n) => resolve(n)))) < MAX_CONNECTIONS, { what: 'a freed slot' });
    const next = await connect();
    next.write(requestHead('GET', '/healthz', {}));
    await waitFor(() => next.status !== null, { what: 'an answer once below the cap' });
    expect(next.status).toBe(200);
  });
});
