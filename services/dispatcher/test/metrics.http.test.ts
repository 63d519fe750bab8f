import request from 'supertest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('x').toString('base64');
const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** The value of one sample line of the exposition text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('dispatcher /metrics: RED metrics per route and status, build info, event-loop delay', () => {
  let d: RunningDispatcher;
  const commitBefore = process.env.OUTBOUND_COMMIT;
  beforeAll(async () => {
    process.env.OUTBOUND_COMMIT = 'abc1234';
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'metrics-http');
  });
  afterAll(async () => {
    if (commitBefore === undefined) delete process.env.OUTBOUND_COMMIT;
    else process.env.OUTBOUND_COMMIT = commitBefore;
    await d.stop();
  });

  it('counts requests by method, route pattern and status, and times them', async () => {
    for (let i = 0; i < 3; i += 1) await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'MET-1', payload }).expect(202);
    await request(d.app).post('/v1/commands').send({ phyId: 'MET-1', payload }).expect(401);
    await request(d.app).get('/v1/commands/00000000-0000-4000-8000-000000000000').set(as(SEND_KEY)).expect(404);
    await request(d.app).get('/nowhere/1').expect(404);
    const text = (await request(d.app).get('/metrics').expect(200)).text;
    const base = { service: 'dispatcher' };
    expect(sample(text, 'outbound_http_requests_total', { ...base, method: 'POST', route: '/v1/commands', status: '202' })).toBe(3);
    // Refused before any route matched (the key is checked first): no route pattern to name.
    expect(sample(text, 'outbound_http_requests_total', { ...base, method: 'POST', route: 'unmatched', status: '401' })).toBe(1);
    expect(sample(text, 'outbound_http_requests_total', { ...base, method: 'GET', route: '/v1/commands/:id', status: '404' })).toBe(1);
    expect(sample(text, 'outbound_http_requests_total', { ...base, method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    // No raw URL ever becomes a label.
    expect(text).not.toContain('00000000-0000-4000-8000-000000000000');
    expect(text).not.toContain('/nowhere/1');
    expect(sample(text, 'outbound_http_request_duration_seconds_count', { ...base, method: 'POST', route: '/v1/commands', status: '202' })).toBe(3);
    expect(sample(text, 'outbound_http_request_duration_seconds_bucket', { ...base, method: 'POST', route: '/v1/commands', status: '202', le: '+Inf' })).toBe(3);
  });

  it('reports the package version and the image commit, and the event-loop delay', async () => {
    const text = (await request(d.app).get('/metrics').expect(200)).text;
    expect(sample(text, 'outbound_build_info', { service: 'dispatcher', version, commit: 'abc1234' })).toBe(1);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="dispatcher"\} [0-9.e-]+$/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="dispatcher"\} [0-9.e-]+$/m);
  });
});
