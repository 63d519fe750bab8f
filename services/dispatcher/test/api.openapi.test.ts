import request from 'supertest';
import type { Express } from 'express';
import { testRedisUrl } from '@outbound/test-support';
import { openApiDocument, type RunningDispatcher } from '../src';
import { ADMIN_KEY, as, startTestDispatcher } from './support/harness';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every "METHOD /path" the express app serves, nested routers included, in OpenAPI path syntax. */
function servedRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out.sort();
}

function documentedRoutes(): string[] {
  return Object.entries(openApiDocument.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('/openapi.json', () => {
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'api-openapi');
  });
  afterAll(() => d.stop());

  it('documents exactly the routes the app serves', () => {
    expect(servedRoutes(d.app)).toEqual(documentedRoutes());
  });

  it('lists every public route', () => {
    expect(documentedRoutes()).toEqual(expect.arrayContaining([
      'POST /v1/commands', 'POST /v1/commands/batch', 'GET /v1/commands/{id}', 'DELETE /v1/commands/{id}',
      'GET /v1/devices/{phyId}', 'GET /v1/devices/{phyId}/commands', 'GET /v1/stats',
      'GET /v1/dead-letters', 'POST /v1/dead-letters/replay', 'DELETE /v1/dead-letters/{id}', 'GET /openapi.json',
    ]));
  });

  it('is served, and every documented route answers something other than "no route"', async () => {
    const served = await request(d.app).get('/openapi.json').expect(200);
    expect(served.body.openapi).toBe('3.1.0');
    for (const route of documentedRoutes()) {
      const [method, path] = route.split(' ') as [string, string];
      const concrete = path.replace('{id}', '00000000-0000-4000-8000-000000000000').replace('{phyId}', 'DEV-1');
      const res = await request(d.app)[method.toLowerCase() as 'get'](concrete).set(as(ADMIN_KEY)).send({});
      const noRoute = res.status === 404 && res.body?.code === 'NOT_FOUND';
      expect({ route, noRoute }).toEqual({ route, noRoute: false });
    }
  });
});
