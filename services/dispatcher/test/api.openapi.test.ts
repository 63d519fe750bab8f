import request from 'supertest';
import type { Express } from 'express';
import { testRedisUrl } from '@outbound/test-support';
import { ERROR_CODES } from '@outbound/core';
import { buildOpenApiDocument, openApiDocument, type RunningDispatcher } from '../src';
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

interface Operation { operationId?: string; security?: unknown[]; responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }> }
const operations = (): Array<[string, Operation]> =>
  Object.entries(openApiDocument.paths as Record<string, Record<string, Operation>>).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => [`${m.toUpperCase()} ${path}`, op] as [string, Operation]));

/** A schema that says nothing of its members: an object without properties (what `Record<string, never>` comes from). */
function untyped(schema: Record<string, unknown> | undefined): boolean {
  if (!schema) return true;
  if ('$ref' in schema || 'anyOf' in schema || 'oneOf' in schema || 'allOf' in schema) return false;
  return schema.type === 'object' && !schema.properties && !schema.additionalProperties;
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

  it('names every operation once, with its security, and types every answer', () => {
    const ids = operations().map(([, op]) => op.operationId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [route, op] of operations()) {
      expect({ route, security: Array.isArray(op.security) }).toEqual({ route, security: true });
      for (const [status, response] of Object.entries(op.responses)) {
        const schemas = Object.values(response.content ?? {}).map((c) => c.schema);
        // 204 No Content is the one answer without a body.
        const typed = status === '204' ? schemas.length === 0 : schemas.length > 0 && !schemas.some(untyped);
        expect({ route, status, schemas: typed }).toEqual({ route, status, schemas: true });
      }
    }
    expect(openApiDocument.servers?.length).toBeGreaterThan(0);
    expect(openApiDocument.components?.securitySchemes).toHaveProperty('apiKey');
  });

  it('lists every error code in the problem schema', () => {
    const problem = openApiDocument.components?.schemas?.Problem as { required: string[]; properties: { code: { enum: string[] } } };
    expect([...problem.properties.code.enum].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
  });

  it("states the app's own limits", async () => {
    const limited = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false }, api: { maxWaitMs: 1234, batchMax: 7 } }, 'api-openapi-limits');
    try {
      const served = await request(limited.app).get('/openapi.json').expect(200);
      expect(served.body).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument({ maxWaitMs: 1234, batchMax: 7 }))));
      const batch = served.body.paths['/v1/commands/batch'].post.requestBody.content['application/json'].schema;
      expect(batch.properties.commands.maxItems).toBe(7);
      const waitMs = served.body.paths['/v1/commands/{id}'].get.parameters.find((p: { name: string }) => p.name === 'waitMs');
      expect(waitMs.schema.maximum).toBe(1234);
    } finally {
      await limited.stop();
    }
  });

  it('is served, and every documented route answers something other than "no route"', async () => {
    const served = await request(d.app).get('/openapi.json').expect(200);
    expect(served.body.openapi).toBe('3.1.0');
    for (const route of documentedRoutes()) {
      const [method, path] = route.split(' ') as [string, string];
      // The live stream stays open: an empty type filter makes it answer (400) at once.
      const concrete = path.replace('{id}', '00000000-0000-4000-8000-000000000000').replace('{phyId}', 'DEV-1') + (path === '/v1/events' ? '?types=' : '');
      const res = await request(d.app)[method.toLowerCase() as 'get'](concrete).set(as(ADMIN_KEY)).send({});
      const noRoute = res.status === 404 && res.body?.code === 'NOT_FOUND';
      expect({ route, noRoute }).toEqual({ route, noRoute: false });
    }
  });
});
