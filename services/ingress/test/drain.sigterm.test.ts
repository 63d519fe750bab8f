import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AckStatus, encodeAck, RedisRouteRegistry } from '@outbound/core';
import { testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN } from './support/test-ingress';

const MAIN = join(__dirname, '..', 'dist', 'main.js');

/** Built by `npm run build`; this test runs the real process as production does. */
describe('ingress drain on SIGTERM (a real process)', () => {
  let child: ChildProcess;
  let client: Redis;
  let registry: RedisRouteRegistry;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this test`);
    const prefix = uniquePrefix('ingress-drain');
    client = new Redis(testRedisUrl());
    registry = new RedisRouteRegistry({ client, prefix });
    child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: testRedisUrl(),
        REGISTRY_PREFIX: prefix,
        INGRESS_REPLICA_ID: 'replica-drain',
        INGRESS_TCP_HOST: '127.0.0.1',
        INGRESS_TCP_PORT: '0',
        INGRESS_HTTP_HOST: '127.0.0.1',
        INGRESS_HTTP_PORT: '0',
        DEVICE_AUTH_SECRETS: SECRET,
        INTERNAL_TOKEN: TOKEN,
        INGRESS_SHUTDOWN_GRACE_MS: '8000',
        INGRESS_GOAWAY_SPREAD_MS: '3000',
        REGISTRY_HEARTBEAT_INTERVAL_MS: '200',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          logs.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          logs.push({ text });
        }
      }
    });
  });

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await registry.close();
    await client.quit();
  });

  it('stops readiness and the listener, sends GOAWAY, answers in-flight deliveries, removes its routes and exits 0', async () => {
    const ready = await waitFor(() => logs.find((l) => l.msg === 'ingress ready'), { timeoutMs: 15_000, what: 'the ingress to start' });
    const tcpPort = ready.tcpPort as number;
    const base = `http://127.0.0.1:${ready.httpPort as number}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const busy = await RawDevice.handshake(tcpPort, 'DEV-D1', SECRET);
    const idle = await RawDevice.handshake(tcpPort, 'DEV-D2', SECRET);
    await waitFor(async () => (await registry.lookupMany(['DEV-D1', 'DEV-D2'])).size === 2, { what: 'both routes' });
    const id = randomUUID();
    const delivery = fetch(`${base}/internal/v1/devices/DEV-D1/deliver`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ id, payload: 'AA==', ackTimeoutMs: 5_000 }),
    });
    await busy.nextCommand();

    child.kill('SIGTERM');
    const spreadBusy = await busy.goaway();
    const spreadIdle = await idle.goaway();
    for (const ms of [spreadBusy, spreadIdle]) expect(ms).toBeLessThanOrEqual(3_000);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    // The listener is closed: a new device is refused.
    await expect(new Promise((resolve, reject) => connect(tcpPort, '127.0.0.1').once('connect', resolve).once('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    // The idle device is let go at once; the busy one still gets its in-flight delivery answered.
    await idle.waitClosed();
    busy.send(encodeAck(id, AckStatus.OK, Buffer.from('bye')));
    const answered = await delivery;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ outcome: 'ok', result: Buffer.from('bye').toString('base64') });

    expect(await exited).toBe(0);
    await busy.waitClosed();
    expect(await registry.lookupMany(['DEV-D1', 'DEV-D2'])).toEqual(new Map());
    expect((await registry.listReplicas()).map((r) => r.replicaId)).not.toContain('replica-drain');
    expect(logs.some((l) => l.msg === 'drain complete')).toBe(true);
  });
});
