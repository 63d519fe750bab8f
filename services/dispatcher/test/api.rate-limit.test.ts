import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createPgPool } from '@outbound/core';
import { RawHttpConnection, requestHead, startRedisServer, testPgUrl, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from './support/harness';

const LIMITED_KEY = 'limited-key-0123456789';
const KEY_LIMIT = 5;
const ADMIN_LIMIT = 3;
/** Long enough that a loaded machine finishes each test's requests inside one window. */
const WINDOW_SECONDS = 5;

const settings = {
  worker: { enabled: false },
  apiKeys: [`${SEND_KEY}:send`, `${ADMIN_KEY}:admin`, `${LIMITED_KEY}:send:${KEY_LIMIT}`],
  // A slow store answer under load must not let a request through unlimited in this test.
  rateLimit: { windowSeconds: WINDOW_SECONDS, send: 0, admin: ADMIN_LIMIT, storeWaitMs: 5_000 },
};

/** A cheap authenticated request: reading a command that does not exist (404) still counts. */
const read = (d: RunningDispatcher, key: string) => request(d.app).get(`/v1/commands/${randomUUID()}`).set(as(key));

/**
 * The per-API-key rate limit is one budget per key across every dispatcher: two dispatchers
 * on one store (Redis, then PostgreSQL) spend it together.
 */
describe.each([
  ['redis', {}],
  ['postgres', { queue: { backend: 'postgres' }, postgres: { url: testPgUrl() } }],
] as const)('per-API-key rate limit shared by two dispatchers (%s)', (backend, store) => {
  const prefix = uniquePrefix(`rate-${backend}`);
  let a: RunningDispatcher;
  let b: RunningDispatcher;

  beforeAll(async () => {
    a = await startTestDispatcher(testRedisUrl(), { ...settings, ...store }, 'rate-a', prefix);
    b = await startTestDispatcher(testRedisUrl(), { ...settings, ...store }, 'rate-b', prefix);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (backend === 'postgres') {
      const pool = createPgPool({ url: testPgUrl() });
      await pool.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`);
      await pool.end();
    }
  });

  it('spends one key\'s own limit across both dispatchers, then answers 429 RATE_LIMITED with Retry-After; other keys go on', async () => {
    const answers: number[] = [];
    for (let i = 0; i < KEY_LIMIT; i += 1) answers.push((await read(i % 2 === 0 ? a : b, LIMITED_KEY)).status);
    expect(answers).toEqual(Array(KEY_LIMIT).fill(404));

    for (const d of [a, b]) {
      const limited = await read(d, LIMITED_KEY);
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    // Another key (send role, unlimited here) is untouched by this key's budget.
    for (let i = 0; i < KEY_LIMIT * 2; i += 1) await read(b, SEND_KEY).expect(404);
    expect(await a.metrics.rateLimited.get()).toMatchObject({ values: [{ labels: { role: 'send' }, value: 1 }] });

    // The next window admits the key again.
    await waitFor(async () => (await read(a, LIMITED_KEY)).status === 404, { timeoutMs: (WINDOW_SECONDS + 2) * 1_000, intervalMs: 200, what: 'the next window' });
  });

  it('limits by role when the key has no limit of its own (admin: 3 per window)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < ADMIN_LIMIT + 1; i += 1) statuses.push((await request((i % 2 === 0 ? a : b).app).get('/v1/stats').set(as(ADMIN_KEY))).status);
    expect(statuses).toEqual([...Array(ADMIN_LIMIT).fill(200), 429]);
  });

  it('refuses an over-limit request before reading its body, and closes the connection', async () => {
    await waitFor(async () => (await read(a, LIMITED_KEY)).status === 429, { timeoutMs: 5_000, what: 'the key to reach its limit' });
    const c = await RawHttpConnection.open(a.httpPort);
    try {
      c.write(requestHead('POST', '/v1/commands', { ...as(LIMITED_KEY), 'Content-Type': 'application/json', 'Content-Length': 1_000_000 }));
      c.write('{"phyId":"');
      await waitFor(() => c.closed, { timeoutMs: 2_000, what: 'the connection to close after the 429' });
      expect(c.status).toBe(429);
      expect(c.received).toMatch(/\r\nretry-after: \d+\r\n/i);
    } finally {
      c.destroy();
    }
  });
});

describe('per-API-key rate limit while its store is down', () => {
  it('steps aside: the caller gets the store\'s 503, not a 429 or a wait for the store', async () => {
    const redis = await startRedisServer();
    const d = await startTestDispatcher(redis.url, { ...settings, apiKeys: [`${LIMITED_KEY}:send:1`], rateLimit: { windowSeconds: 60, send: 0, admin: 0, storeWaitMs: 250 } }, 'rate-down');
    try {
      await read(d, LIMITED_KEY).expect(404);
      await read(d, LIMITED_KEY).expect(429);
      await redis.kill();
      const started = performance.now();
      const res = await request(d.app).post('/v1/commands').set(as(LIMITED_KEY)).send({ phyId: 'DEV-1', payload: '' });
      expect(res.status).toBe(503);
      // Refused unsent once the client knows the server is gone; written just before it knew,
      // the command's outcome is unknown. Either way the store's 503, not the limit's 429.
      expect(['STORE_UNAVAILABLE', 'OUTCOME_UNKNOWN']).toContain(res.body.code);
      // The harness' Redis command timeout is 2 s: the limit gave up on the store after 250 ms.
      expect(performance.now() - started).toBeLessThan(2_000 + 250 + 1_000);
    } finally {
      await d.stop();
      await redis.stop();
    }
  });
});
