import { RawHttpConnection, requestHead, uniquePrefix, waitFor } from '@outbound/test-support';
import type { IngressHandle } from '@outbound/ingress';
import { TOKEN, startTestIngress } from './support/test-ingress';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1_000;
const MAX_CONNECTIONS = 4;

/** The internal delivery endpoint: a caller without the internal token costs headers only, and slow or surplus connections are cut off. */
describe('ingress internal HTTP before authentication (raw sockets)', () => {
  let ingress: IngressHandle;
  const open: RawHttpConnection[] = [];
  const connect = async () => {
    const c = await RawHttpConnection.open(ingress.httpPort);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-http-limits'), {
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxConnections: MAX_CONNECTIONS },
    });
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.destroy();
  });
  afterAll(() => ingress.stop());

  it('answers a 7 MB delivery batch without the token with 401 after its first 64 KB, and closes instead of reading the rest', async () => {
    const c = await connect();
    c.write(requestHead('POST', '/internal/v1/deliveries', { 'Content-Type': 'application/json', 'Content-Length': 7_200_000, Authorization: 'Bearer wrong-token-0123456789' }));
    c.write(Buffer.alloc(64 * 1024, '{'));
    await waitFor(() => c.closed, { timeoutMs: 2_000, what: 'the server to close the connection' });
    expect(c.status).toBe(401);
    expect(c.received).toMatch(/\r\nconnection: close\r\n/i);
    expect(c.closedAt! - c.openedAt).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
  });

  it('drops a client that dribbles its headers at the headers timeout, and one with the token that dribbles its body at the request timeout', async () => {
    const headers = await connect();
    headers.write('POST /internal/v1/deliveries HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const body = await connect();
    body.write(requestHead('POST', '/internal/v1/deliveries', { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', 'Content-Length': 10_000 }));
    const dribble = setInterval(() => {
      headers.write('X-Slow: 1\r\n');
      body.write(' ');
    }, 50);
    try {
      await waitFor(() => headers.closed && body.closed, { timeoutMs: REQUEST_TIMEOUT_MS * 3, what: 'both slow clients to be dropped' });
    } finally {
      clearInterval(dribble);
    }
    expect(headers.closedAt! - headers.openedAt).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(headers.closedAt! - headers.openedAt).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(body.closedAt! - body.openedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  });

  it('closes connections beyond the cap at once', async () => {
    const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect()));
    // Each held connection answered once, so the server has accepted every one (kept alive).
    for (const c of held) c.write(requestHead('GET', '/healthz', {}));
    await waitFor(() => held.every((c) => c.status === 200), { what: 'an answer on every held connection' });
    const extra = await connect();
    extra.write(requestHead('GET', '/healthz', {}));
    await waitFor(() => extra.closed, { timeoutMs: HEADERS_TIMEOUT_MS / 2, what: 'the connection over the cap to be closed' });
    expect(extra.status).toBeNull();
  });
});
