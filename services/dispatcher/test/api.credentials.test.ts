import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import request from 'supertest';
import {
  createLogger, createPgPool, createRedisClient, PostgresCredentialStore, RedisCredentialStore, type CredentialStore,
} from '@outbound/core';
import { testPgUrl, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { loadDispatcherConfig, startDispatcher, type RunningDispatcher } from '../src';
import { ADMIN_KEY, SEND_KEY, as, testDispatcherSettings } from './support/harness';

/** Every log line the dispatcher writes, at trace level, to prove the key is never among them. */
class LogSink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * The admin API for device credentials on both backends: what it stores is what an ingress
 * replica reads from its own CredentialStore, and a revocation reaches a replica's listener.
 */
describe.each(['redis', 'postgres'] as const)('device credentials admin API (%s)', (backend) => {
  const prefix = uniquePrefix(`cred-${backend}`);
  const logs = new LogSink();
  let d: RunningDispatcher;
  /** What an ingress replica sees: its own store on the same Redis or database. */
  let replicaView: CredentialStore;
  let pool: ReturnType<typeof createPgPool> | null = null;

  beforeAll(async () => {
    const store = backend === 'postgres' ? { queue: { backend: 'postgres' }, postgres: { url: testPgUrl() } } : {};
    const { config } = loadDispatcherConfig({ env: {}, overrides: testDispatcherSettings(testRedisUrl(), prefix, { worker: { enabled: false }, ...store }) });
    d = await startDispatcher(config, { logger: createLogger({ service: 'dispatcher', level: 'trace', destination: logs }) });
    if (backend === 'postgres') {
      pool = createPgPool({ url: testPgUrl() });
      replicaView = new PostgresCredentialStore({ pool, schema: prefix });
    } else {
      replicaView = new RedisCredentialStore({ client: createRedisClient({ url: testRedisUrl() }), prefix, ownsClient: true });
    }
  });
  afterAll(async () => {
    await replicaView?.close();
    await d?.stop();
    if (pool) {
      await pool.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`);
      await pool.end();
    }
  });

  it('provisions a device key, shows it is in force without showing it, and reverts to the derived key', async () => {
    const key = randomBytes(32);
    const put = await request(d.app).put('/v1/devices/DEV-K1/credentials').set(as(ADMIN_KEY)).send({ key: key.toString('base64') }).expect(200);
    expect(put.body).toEqual({ phyId: 'DEV-K1', key: 'provisioned' });
    expect((await replicaView.get('DEV-K1')).key).toEqual(key);
    const view = await request(d.app).get('/v1/devices/DEV-K1').set(as(ADMIN_KEY)).expect(200);
    expect(view.body.credentials).toEqual({ key: 'provisioned', revoked: false });

    // Rotation: a second PUT replaces the key.
    const next = randomBytes(32);
    await request(d.app).put('/v1/devices/DEV-K1/credentials').set(as(ADMIN_KEY)).send({ key: next.toString('base64') }).expect(200);
    expect((await replicaView.get('DEV-K1')).key).toEqual(next);

    const removed = await request(d.app).delete('/v1/devices/DEV-K1/credentials').set(as(ADMIN_KEY)).expect(200);
    expect(removed.body).toEqual({ phyId: 'DEV-K1', key: 'derived', removed: true });
    expect((await replicaView.get('DEV-K1')).key).toBeNull();
    const again = await request(d.app).delete('/v1/devices/DEV-K1/credentials').set(as(ADMIN_KEY)).expect(200);
    expect(again.body.removed).toBe(false);

    for (const k of [key, next]) {
      for (const form of [k.toString('base64'), k.toString('hex')]) expect(logs.text).not.toContain(form);
    }
  });

  it.each([
    ['31 bytes', { key: randomBytes(31).toString('base64') }, 'key', 'must decode to exactly 32 bytes'],
    ['33 bytes', { key: randomBytes(33).toString('base64') }, 'key', 'must decode to exactly 32 bytes'],
    ['hex, not base64', { key: randomBytes(32).toString('hex') }, 'key', 'must decode to exactly 32 bytes'],
    ['characters outside base64', { key: `${randomBytes(30).toString('base64')}!` }, 'key', 'must be base64'],
    ['a number', { key: 5 }, 'key', 'must be a base64 string'],
    ['nothing', {}, 'key', 'is required: base64 of 32 bytes'],
    ['an extra field', { key: randomBytes(32).toString('base64'), note: 'x' }, '(body)', 'Unrecognized key: "note"'],
  ] as Array<[string, Record<string, unknown>, string, string]>)('refuses %s with 400 naming the field, never echoing the key, and stores nothing', async (_name, body, path, message) => {
    const res = await request(d.app).put('/v1/devices/DEV-BAD/credentials').set(as(ADMIN_KEY)).send(body).expect(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([{ path, message }]);
    if (typeof body.key === 'string') expect(JSON.stringify(res.body)).not.toContain(body.key);
    expect(await replicaView.get('DEV-BAD')).toEqual({ key: null, revoked: false });
  });

  it('revokes a device and every replica hears it; lifting the revocation restores it', async () => {
    const heard: string[] = [];
    const subscription = await replicaView.onRevoked((phyId) => heard.push(phyId));
    try {
      const put = await request(d.app).put('/v1/devices/DEV-R1/revocation').set(as(ADMIN_KEY)).expect(200);
      expect(put.body).toEqual({ phyId: 'DEV-R1', revoked: true });
      await waitFor(() => heard.includes('DEV-R1'), { what: 'the revocation broadcast' });
      expect((await replicaView.get('DEV-R1')).revoked).toBe(true);
      const view = await request(d.app).get('/v1/devices/DEV-R1').set(as(ADMIN_KEY)).expect(200);
      expect(view.body.credentials).toEqual({ key: 'derived', revoked: true });

      const lifted = await request(d.app).delete('/v1/devices/DEV-R1/revocation').set(as(ADMIN_KEY)).expect(200);
      expect(lifted.body).toEqual({ phyId: 'DEV-R1', revoked: false, lifted: true });
      expect((await replicaView.get('DEV-R1')).revoked).toBe(false);
      expect((await request(d.app).delete('/v1/devices/DEV-R1/revocation').set(as(ADMIN_KEY)).expect(200)).body.lifted).toBe(false);
    } finally {
      await subscription.stop();
    }
  });

  it('needs the admin role, and a valid phyId', async () => {
    const key = randomBytes(32).toString('base64');
    await request(d.app).put('/v1/devices/DEV-S/credentials').set(as(SEND_KEY)).send({ key }).expect(403);
    await request(d.app).put('/v1/devices/DEV-S/revocation').set(as(SEND_KEY)).expect(403);
    await request(d.app).delete('/v1/devices/DEV-S/revocation').expect(401);
    const bad = await request(d.app).put('/v1/devices/bad%20id/revocation').set(as(ADMIN_KEY)).expect(400);
    expect(bad.body.errors[0].path).toBe('phyId');
    expect(await replicaView.get('DEV-S')).toEqual({ key: null, revoked: false });
  });
});
