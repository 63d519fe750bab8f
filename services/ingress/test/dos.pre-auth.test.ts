import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameType } from '@outbound/core';
import { waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from './support/ingress-process';
import { RawDevice } from './support/raw-device';

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('pre-authentication limits of the ingress process', () => {
  let ingress: IngressProcess;
  const sockets: Socket[] = [];

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await ingress?.stop();
  });

  it('holds 2,000 partial pre-auth frames for under 5 MB, and refuses a larger declared frame before buffering it', async () => {
    ingress = await startIngressProcess({ INGRESS_HANDSHAKE_TIMEOUT_MS: '120000' }, { measured: true });
    // Each socket declares the largest frame allowed before WELCOME and sends all of it but one byte.
    const partial = encodeFrame(FrameType.HELLO2, Buffer.alloc(512, 0x41)).subarray(0, 8 + 511);
    const warmup = await Promise.all(Array.from({ length: 50 }, () => open(ingress.tcpPort)));
    for (const s of warmup) s.write(partial);
    await waitFor(async () => (await ingress.metric('outbound_ingress_open_connections')) === 50, { what: 'warm-up connections' });
    for (const s of warmup) s.destroy();
    await waitFor(async () => (await ingress.metric('outbound_ingress_open_connections')) === 0, { what: 'warm-up connections closed' });
    const start = await ingress.retainedBytes();

    // 2,000 connections first (what any 2,000 clients cost), then a partial frame on each: the
    // difference is what pre-auth buffering costs. Measured after a full GC in the ingress
    // process, so garbage the collector has not reached yet does not count.
    for (let i = 0; i < 2_000; i += 200) sockets.push(...(await Promise.all(Array.from({ length: 200 }, () => open(ingress.tcpPort)))));
    await waitFor(async () => (await ingress.metric('outbound_ingress_open_connections')) === 2_000, { timeoutMs: 20_000, what: '2,000 connections held' });
    const connected = await ingress.retainedBytes();
    for (const s of sockets) s.write(partial);
    await waitFor(() => sockets.every((s) => s.writableLength === 0), { what: 'every partial frame written' });
    // Measured until the partial frames are held (a loaded host reads them late): the bytes really are held,
    // so the measurement sees them; a wait that never sees them fails.
    const total = (u: { heapUsed: number; external: number }) => u.heapUsed + u.external;
    const buffered = await waitFor(async () => {
      const usage = await ingress.retainedBytes();
      return total(usage) - total(connected) > 2_000 * 511 ? usage : null;
    }, { timeoutMs: 20_000, intervalMs: 100, what: 'the 2,000 partial frames to be held by the ingress' });
    const frameCost = total(buffered) - total(connected);
    const mb = (n: number) => (n / 1e6).toFixed(2);
    console.log(
      `2,000 connections: heap+external +${mb(total(connected) - total(start))} MB (RSS +${mb(connected.rss - start.rss)} MB); ` +
        `their 2,000 partial pre-auth frames (511 of 512 bytes each): heap+external +${mb(frameCost)} MB (RSS +${mb(buffered.rss - connected.rss)} MB)`,
    );
    expect(await ingress.metric('outbound_ingress_open_connections')).toBe(2_000);
    expect(frameCost).toBeLessThan(5 * 1024 * 1024);
    expect((await fetch(`${ingress.base}/healthz`)).status).toBe(200);

    const large = await RawDevice.connect(ingress.tcpPort);
    const header = encodeFrame(FrameType.HELLO2, Buffer.alloc(0));
    header.writeUInt32BE(64 * 1024, 4);
    large.send(header);
    expect((await large.errorAndClose()).code).toBe(3);
  }, 60_000);
});
