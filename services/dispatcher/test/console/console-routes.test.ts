import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../../src';
import { CONSOLE_DIR } from '../../src/console-routes';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from '../support/harness';

describe('the console bundle and the admin routes it reads (real Redis, no browser)', () => {
  let d: RunningDispatcher;
  beforeAll(async () => {
    d = await startTestDispatcher(testRedisUrl(), { worker: { enabled: false } }, 'console-routes');
  });
  afterAll(() => d.stop());

  it('serves index.html without a key for every console path, and its hashed assets for good', async () => {
    await request(d.app).get('/console').expect(301).expect('Location', '/console/');
    for (const path of ['/console/', '/console/devices/DEV-1', '/console/dead-letters?phyId=X']) {
      const page = await request(d.app).get(path).expect(200).expect('Content-Type', /text\/html/);
      expect(page.text).toContain('<div id="app">');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    }
    const index = (await request(d.app).get('/console/')).text;
    const script = /src="(\/console\/assets\/app-[\w-]+\.js)"/.exec(index)?.[1];
    const style = /href="(\/console\/assets\/app-[\w-]+\.css)"/.exec(index)?.[1];
    expect({ script, style }).toEqual({ script: expect.any(String), style: expect.any(String) });
    const js = await request(d.app).get(script!).expect(200).expect('Content-Type', /javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    await request(d.app).get(style!).expect(200).expect('Content-Type', /text\/css/);
    // A missing asset is a 404 problem, not the page (a stale tab must not run HTML as script).
    const missing = await request(d.app).get('/console/assets/app-GONE.js').expect(404);
    expect(missing.body.code).toBe('NOT_FOUND');
  });

  it('adds less than 1 MB to the dispatcher image: its files, its serving code and no runtime dependency', async () => {
    // What the image's runtime stage copies for it: everything under dist/console and the code that serves it.
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
    const dist = join(CONSOLE_DIR, '..');
    const carried = [...files(CONSOLE_DIR), ...readdirSync(dist).filter((name) => name.startsWith('console-routes.')).map((name) => join(dist, name))];
    const bytes = carried.reduce((sum, file) => sum + statSync(file).size, 0);
    expect(carried.filter((file) => file.endsWith('.js')).length).toBeGreaterThanOrEqual(2);
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(1_000_000);
    // The image installs the dispatcher's production dependencies only: the console's stack is build-time.
    const manifest = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(manifest.devDependencies)).toEqual(expect.arrayContaining(['preact', 'esbuild']));
    expect(manifest.dependencies).not.toHaveProperty('preact');
    expect(manifest.dependencies).not.toHaveProperty('esbuild');
  });

  it('serves a bundle of less than 1 MB', async () => {
    const index = (await request(d.app).get('/console/')).text;
    const assets = [...index.matchAll(/"(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    let bytes = Buffer.byteLength(index);
    for (const asset of assets) bytes += Buffer.byteLength((await request(d.app).get(asset).expect(200)).text);
    expect(assets).toHaveLength(2);
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(1_000_000);
  });

  it('finds online devices by phyId prefix, bounded, for the admin role only', async () => {
    const replica = { replicaId: 'console-replica', address: 'http://127.0.0.1:1' };
    await d.registry.heartbeat(replica, 10_000);
    for (const phyId of ['CR-FIND-2', 'CR-FIND-1', 'CR-FIND-3', 'CR-OTHER']) await d.registry.register(phyId, replica);
    const found = await request(d.app).get('/v1/devices?prefix=CR-FIND-').set(as(ADMIN_KEY)).expect(200);
    expect(found.body.items.map((i: { phyId: string }) => i.phyId)).toEqual(['CR-FIND-1', 'CR-FIND-2', 'CR-FIND-3']);
    expect(found.body.items[0]).toEqual({ phyId: 'CR-FIND-1', online: true, replicaId: 'console-replica', connectedSince: expect.any(String) });
    const two = await request(d.app).get('/v1/devices?prefix=CR-FIND-&limit=2').set(as(ADMIN_KEY)).expect(200);
    expect(two.body.items).toHaveLength(2);
    const tooMany = await request(d.app).get('/v1/devices?prefix=CR&limit=101').set(as(ADMIN_KEY)).expect(400);
    expect(tooMany.body.errors[0].path).toBe('query.limit');
    const bad = await request(d.app).get('/v1/devices?prefix=CR*').set(as(ADMIN_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('query.prefix');
    const none = await request(d.app).get('/v1/devices').set(as(ADMIN_KEY)).expect(400);
    expect(none.body.errors[0].path).toBe('query.prefix');
    await request(d.app).get('/v1/devices?prefix=CR').set(as(SEND_KEY)).expect(403);

    const cluster = await request(d.app).get('/v1/cluster').set(as(ADMIN_KEY)).expect(200);
    expect(cluster.body.replicas).toEqual([{ replicaId: 'console-replica', address: 'http://127.0.0.1:1', heartbeatAt: expect.any(String), devices: 4 }]);
    await request(d.app).get('/v1/cluster').set(as(SEND_KEY)).expect(403);
  });
});
