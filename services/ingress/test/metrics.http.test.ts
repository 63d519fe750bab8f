import request from 'supertest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniquePrefix } from '@outbound/test-support';
import type { IngressHandle } from '@outbound/ingress';
import { TOKEN, startTestIngress } from './support/test-ingress';

/** The value of one sample line of the exposition text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const version = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

describe('ingress /metrics: RED metrics of the internal HTTP API, build info, request ids', () => {
  let ingress: IngressHandle;
  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-metrics'));
  });
  afterAll(() => ingress.stop());

  it('counts the delivery route by status and echoes X-Request-Id', async () => {
    const refused = await request(ingress.app).post('/internal/v1/deliveries').set('X-Request-Id', 'hop-1').send({}).expect(401);
    expect(refused.headers['x-request-id']).toBe('hop-1');
    await request(ingress.app).post('/internal/v1/deliveries').set('Authorization', `Bearer ${TOKEN}`).send({ nonsense: true }).expect(400);
    const text = (await request(ingress.app).get('/metrics').expect(200)).text;
    const route = { service: 'ingress', method: 'POST', route: '/internal/v1/deliveries' };
    // The token is checked before any route matched: a refused call has no route pattern yet.
    expect(sample(text, 'outbound_http_requests_total', { ...route, route: 'unmatched', status: '401' })).toBe(1);
    expect(sample(text, 'outbound_http_requests_total', { ...route, status: '400' })).toBe(1);
    expect(sample(text, 'outbound_http_request_duration_seconds_count', { ...route, status: '400' })).toBe(1);
    expect(sample(text, 'outbound_build_info', { service: 'ingress', version })).toBe(1);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="ingress"\} /m);
  });
});
