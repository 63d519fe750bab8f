import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { WireErrorCode } from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from './support/ingress-process';
import { RawDevice } from './support/raw-device';
import { SECRET, startTestIngress } from './support/test-ingress';

/** A TCP socket that connects and then says nothing (or only `first`). */
function idleSocket(port: number, first?: Buffer): Promise<Socket & { openedAt: number; closedAt?: number }> {
  return new Promise((resolve, reject) => {
    const socket: Socket & { openedAt: number; closedAt?: number } = Object.assign(connect({ port, host: '127.0.0.1' }, () => {
      socket.openedAt = Date.now();
      if (first) socket.write(first);
      resolve(socket);
    }), { openedAt: 0 });
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.on('close', () => (socket.closedAt = Date.now()));
  });
}

async function count(ingress: IngressHandle, metric: 'handshakes', label: string): Promise<number> {
  return (await ingress.metrics[metric].get()).values.find((v) => v.labels.result === label)?.value ?? 0;
}

describe('TLS sockets are counted and held to the handshake deadline from accept', () => {
  let dir: string;
  let ingress: IngressHandle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ingress-tls-dos-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    ingress = await startTestIngress(uniquePrefix('ingress-tls-dos'), {
      tcp: { tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem'), maxConnections: 300 },
      timing: { handshakeTimeoutMs: 6_000 },
    });
  });
  afterAll(async () => {
    await ingress.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes 1,000 idle TLS sockets by the handshake timeout, never holding more than the connection limit', async () => {
    // Half a ClientHello: a TLS record header promising 512 bytes, then nothing.
    const halfHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    let highest = 0;
    const sample = setInterval(() => (highest = Math.max(highest, ingress.devices.connectionCount)), 5);
    try {
      const sockets = await Promise.all(Array.from({ length: 1_000 }, (_, i) => idleSocket(ingress.tcpPort, i % 2 ? halfHello : undefined)));
      await waitFor(() => ingress.devices.connectionCount === 300, { what: 'the limit reached' });
      // The replica answers while they are held.
      await request(ingress.app).get('/healthz').expect(200);
      await waitFor(() => sockets.every((s) => s.closedAt !== undefined), { timeoutMs: 20_000, what: 'every idle TLS socket closed' });
      // Never more held than the limit; every socket either refused at once (busy) or closed by
      // the handshake deadline (tls_timeout), at least the first 300 by the deadline.
      expect(highest).toBeLessThanOrEqual(300);
      const busy = await count(ingress, 'handshakes', 'busy');
      const timedOut = await count(ingress, 'handshakes', 'tls_timeout');
      expect(timedOut).toBeGreaterThanOrEqual(300);
      expect(busy + timedOut).toBe(1_000);
      // All gone within the deadline (from the last connect) plus the sweep's tick and slack.
      const lastOpened = Math.max(...sockets.map((s) => s.openedAt));
      expect(Math.max(...sockets.map((s) => s.closedAt!)) - lastOpened).toBeLessThan(6_000 + 2_500);
      expect((await ingress.metrics.openConnections.get()).values[0]!.value).toBe(0);
    } finally {
      clearInterval(sample);
    }
    // Then a real device gets in.
    const device = await RawDevice.handshake(ingress.tcpPort, 'DEV-AFTER-TLS-FLOOD', SECRET, { tls: true });
    device.close();
  });
});

describe('the connection limit fits the open-file limit', () => {
  let ingress: IngressProcess;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await ingress?.stop();
  });

  it('clamps INGRESS_MAX_CONNECTIONS to ulimit -n less a reserve, with a warning, so BUSY fires before the process runs out of files', async () => {
    ingress = await startIngressProcess({ INGRESS_MAX_CONNECTIONS: '60000', INGRESS_HANDSHAKE_TIMEOUT_MS: '60000' }, { ulimitFiles: 400 });
    const warning = ingress.log.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'warn' && l.configured === 60_000);
    expect(warning).toMatchObject({ maxConnections: 272, openFileLimit: 400 });
    expect(await ingress.metric('outbound_ingress_max_connections')).toBe(272);

    const errors: number[] = [];
    for (let i = 0; i < 400; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => RawDevice.connect(ingress.tcpPort)));
      sockets.push(...batch.map((d) => d.socket));
      for (const d of batch) void d.errorAndClose(10_000).then((e) => errors.push(e.code), () => undefined);
    }
    await waitFor(() => errors.length === 128, { what: '128 connections refused' }).catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${errors.length} errors, ${await ingress.metric('outbound_ingress_open_connections')} open, ${sockets.filter((s) => s.destroyed).length} destroyed`);
    });
    expect(new Set(errors)).toEqual(new Set([WireErrorCode.BUSY]));
    expect(await ingress.metric('outbound_ingress_open_connections')).toBe(272);
    // The replica itself still works: health, its store, its metrics.
    expect((await fetch(`${ingress.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${ingress.base}/readyz`)).status).toBe(200);
    expect(((await (await fetch(`${ingress.base}/health`)).json()) as { checks: { redis: { latencyMs: unknown } } }).checks.redis.latencyMs).toEqual(expect.any(Number));
  });
});
