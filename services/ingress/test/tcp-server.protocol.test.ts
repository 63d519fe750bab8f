import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeFrame, encodeHello2, encodePing, encodeAck, FrameType, FRAME_HEADER_BYTES, WireErrorCode, AckStatus,
} from '@outbound/core';
import request from 'supertest';
import type { IngressHandle } from '@outbound/ingress';
import type { DeliveryOutcome } from '../src/pending-deliveries';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { OLD_SECRET, SECRET, TOKEN, startTestIngress } from './support/test-ingress';

describe('ingress TCP server over real sockets', () => {
  let ingress: IngressHandle;
  const devices: RawDevice[] = [];
  const track = <T extends RawDevice>(d: T): T => {
    devices.push(d);
    return d;
  };

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-tcp'), {
      timing: { heartbeatSeconds: 7, handshakeTimeoutMs: 300, idleTimeoutMs: 400 },
      tcp: { maxConnections: 50, maxFrameBytes: 1024 },
    });
  });

  afterEach(() => {
    for (const d of devices.splice(0)) d.close();
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('welcomes a device that proves its key, records its route and answers PING with PONG', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-HS-1', SECRET));
    const route = await waitFor(() => ingress.registry.lookup('DEV-HS-1'), { what: 'the route' });
    expect(route).toMatchObject({ replicaId: ingress.replicaId, address: ingress.address });
    device.send(encodePing(Buffer.from('abc')));
    expect((await device.next(FrameType.PONG)).body.toString()).toBe('abc');
    device.close();
    await waitFor(async () => (await ingress.registry.lookup('DEV-HS-1')) === null, { what: 'the route to go on disconnect' });
  });

  it('accepts a key derived from an older fleet secret during a rotation', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-HS-2', OLD_SECRET));
    expect(device.closed).toBe(false);
  });

  it('closes a connection that sends no HELLO2 within the handshake timeout', async () => {
    const device = track(await RawDevice.connect(ingress.tcpPort));
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.HANDSHAKE_TIMEOUT);
  });

  it('closes a silent device after the idle timeout, and keeps one that pings', async () => {
    const silent = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-IDLE-1', SECRET));
    const chatty = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-IDLE-2', SECRET));
    const pinger = setInterval(() => chatty.send(encodePing()), 100);
    try {
      expect((await silent.errorAndClose()).code).toBe(WireErrorCode.IDLE_TIMEOUT);
      expect(chatty.closed).toBe(false);
    } finally {
      clearInterval(pinger);
    }
  });

  it('decodes ACKs that arrive a byte per write, and a write that ends one ACK and holds the next', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-SPLIT', SECRET));
    const conn = await waitFor(() => ingress.devices.deliverable('DEV-SPLIT'), { what: 'the device to be deliverable' });
    const ids = ['9b2c6f0e-1d4a-4c7e-8f3b-2a5d6e7f8091', '9B2C6F0E-1D4A-4C7E-8F3B-2A5D6E7F8092', '9b2c6f0e-1d4a-4c7e-8f3b-2a5d6e7f8093'];
    const outcomes: Array<Promise<DeliveryOutcome>> = ids.map((id) => new Promise((resolve) => conn.deliver(id.toLowerCase(), Buffer.from('x'), 5_000, resolve)));
    for (let i = 0; i < ids.length; i++) expect((await device.nextCommand()).id).toBe(ids[i]!.toLowerCase());

    // What the server holds of a frame of which `sent` bytes arrived: the header's bytes until it is whole, then the body's.
    const held = (sent: number): number => (sent < FRAME_HEADER_BYTES ? sent : sent - FRAME_HEADER_BYTES);
    // Each byte its own write, sent once the server has taken the one before (so each is its own read).
    const first = encodeAck(ids[0]!, AckStatus.REJECTED, Buffer.from('split'));
    for (let i = 0; i < first.length - 1; i++) {
      device.send(first.subarray(i, i + 1));
      await waitFor(() => conn.bufferedBytes === held(i + 1), { what: `byte ${i} taken by the server` });
    }
    device.send(first.subarray(first.length - 1));
    expect(await outcomes[0]).toEqual({ kind: 'ack', status: AckStatus.REJECTED, result: Buffer.from('split'), latencyMs: expect.any(Number) });

    // The next one less its last byte, then that byte and a whole third ACK in one write.
    const second = encodeAck(ids[1]!, AckStatus.OK, Buffer.from('b'));
    device.send(second.subarray(0, second.length - 1));
    await waitFor(() => conn.bufferedBytes === held(second.length - 1), { what: 'the second ACK less a byte taken by the server' });
    device.send(Buffer.concat([second.subarray(second.length - 1), encodeAck(ids[2]!, AckStatus.BUSY)]));
    expect(await outcomes[1]).toMatchObject({ kind: 'ack', status: AckStatus.OK, result: Buffer.from('b') });
    expect(await outcomes[2]).toMatchObject({ kind: 'ack', status: AckStatus.BUSY });
    expect(device.closed).toBe(false);
  });

  it('settles the ACKs of one read in order, then answers what follows them in it: a PING, an ACK with a bad status, a frame too large', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-COALESCED', SECRET));
    const conn = await waitFor(() => ingress.devices.deliverable('DEV-COALESCED'), { what: 'the device to be deliverable' });
    const ids = ['3f1d2c4b-5a6e-4f70-8a9b-0c1d2e3f4a51', '3f1d2c4b-5a6e-4f70-8a9b-0c1d2e3f4a52', '3f1d2c4b-5a6e-4f70-8a9b-0c1d2e3f4a53'];
    const outcomes: Array<Promise<DeliveryOutcome>> = ids.map((id) => new Promise((resolve) => conn.deliver(id, Buffer.from('x'), 5_000, resolve)));
    for (const id of ids) expect((await device.nextCommand()).id).toBe(id);

    // Two ACKs (one with result bytes) and a PING in one write: both settled, the PING answered.
    device.send(Buffer.concat([encodeAck(ids[0]!, AckStatus.OK, Buffer.from('result')), encodeAck(ids[1]!, AckStatus.REJECTED), encodePing(Buffer.from('p'))]));
    expect(await outcomes[0]).toEqual({ kind: 'ack', status: AckStatus.OK, result: Buffer.from('result'), latencyMs: expect.any(Number) });
    expect(await outcomes[1]).toMatchObject({ kind: 'ack', status: AckStatus.REJECTED, result: Buffer.alloc(0) });
    expect((await device.next(FrameType.PONG)).body.toString()).toBe('p');

    // An ACK, then an ACK whose status is no AckStatus: the first is settled, the second is BAD_FRAME.
    const bad = encodeAck(ids[2]!, AckStatus.OK);
    bad[FRAME_HEADER_BYTES + 16] = 7;
    const late = encodeAck(ids[0]!, AckStatus.OK);
    device.send(Buffer.concat([encodeAck(ids[2]!, AckStatus.BUSY), bad, late]));
    expect(await outcomes[2]).toMatchObject({ kind: 'ack', status: AckStatus.BUSY });
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);

    // An ACK, then the header of a frame above the limit: settled, then TOO_LARGE.
    const other = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-COALESCED-2', SECRET));
    const next = await waitFor(() => ingress.devices.deliverable('DEV-COALESCED-2'), { what: 'the second device to be deliverable' });
    const id = '3f1d2c4b-5a6e-4f70-8a9b-0c1d2e3f4a54';
    const outcome = new Promise<DeliveryOutcome>((resolve) => next.deliver(id, Buffer.from('x'), 5_000, resolve));
    expect((await other.nextCommand()).id).toBe(id);
    const tooLarge = encodeAck(id, AckStatus.OK);
    tooLarge.writeUInt32BE(1025, 4);
    other.send(Buffer.concat([encodeAck(id, AckStatus.OK), tooLarge]));
    expect(await outcome).toMatchObject({ kind: 'ack', status: AckStatus.OK });
    expect((await other.errorAndClose()).code).toBe(WireErrorCode.TOO_LARGE);
  });

  it('answers a frame above the size limit with TOO_LARGE before reading its body', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-BIG', SECRET));
    const header = encodeFrame(FrameType.PING, Buffer.alloc(0));
    header.writeUInt32BE(1025, 4);
    device.send(header);
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.TOO_LARGE);
  });

  it('answers an unknown frame type with PROTOCOL', async () => {
    const device = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-UNK', SECRET));
    device.send(encodeFrame(0x55, Buffer.from('x')));
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.PROTOCOL);
  });

  it('answers a frame not allowed in the state with PROTOCOL (ACK before HELLO2, HELLO2 twice)', async () => {
    const early = track(await RawDevice.connect(ingress.tcpPort));
    early.send(encodeAck('6b1f0a52-8d4e-4c1e-9a57-0f3c2d1e4b5a', AckStatus.OK));
    expect((await early.errorAndClose()).code).toBe(WireErrorCode.PROTOCOL);
    const twice = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-TWICE', SECRET));
    twice.send(encodeHello2('DEV-TWICE', Buffer.alloc(16)));
    expect((await twice.errorAndClose()).code).toBe(WireErrorCode.PROTOCOL);
  });

  it('answers bad magic, a bad version and a malformed HELLO2 with BAD_FRAME', async () => {
    const magic = track(await RawDevice.connect(ingress.tcpPort));
    magic.send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect((await magic.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
    const version = track(await RawDevice.connect(ingress.tcpPort));
    const frame = encodeHello2('DEV-V', Buffer.alloc(16));
    frame[2] = 2;
    version.send(frame);
    expect((await version.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
    const body = track(await RawDevice.connect(ingress.tcpPort));
    body.send(encodeFrame(FrameType.HELLO2, Buffer.from([5, 0x41])));
    expect((await body.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
  });

  it('answers a PING or PONG body over 64 bytes with BAD_FRAME', async () => {
    const ping = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-PING65', SECRET));
    ping.send(encodeFrame(FrameType.PING, Buffer.alloc(65)));
    expect((await ping.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
    const pong = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-PONG65', SECRET));
    pong.send(encodeFrame(FrameType.PONG, Buffer.alloc(65)));
    expect((await pong.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
    // 64 bytes is still fine.
    const fine = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-PONG64', SECRET));
    fine.send(encodeFrame(FrameType.PONG, Buffer.alloc(64)));
    fine.send(encodePing(Buffer.alloc(64, 1)));
    expect((await fine.next(FrameType.PONG)).body).toEqual(Buffer.alloc(64, 1));
  });

  it('supersedes an older connection of the same phyId on this replica', async () => {
    const older = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-SUP', SECRET));
    const first = await waitFor(() => ingress.registry.lookup('DEV-SUP'), { what: 'first route' });
    const newer = track(await RawDevice.handshake(ingress.tcpPort, 'DEV-SUP', SECRET));
    expect((await older.errorAndClose()).code).toBe(WireErrorCode.SUPERSEDED);
    const second = await waitFor(async () => {
      const r = await ingress.registry.lookup('DEV-SUP');
      return r && r.epoch > first.epoch ? r : null;
    }, { what: 'the newer route' });
    expect(second.epoch).toBe(first.epoch + 1);
    expect(newer.closed).toBe(false);
    // The older connection's close must not remove the newer route (fencing).
    expect(await ingress.registry.lookup('DEV-SUP')).toMatchObject({ epoch: second.epoch });
  });
});

describe('ingress limits', () => {
  it('answers connections past the limit with BUSY', async () => {
    const ingress = await startTestIngress(uniquePrefix('ingress-limit'), { tcp: { maxConnections: 2 } });
    const devices = [await RawDevice.handshake(ingress.tcpPort, 'DEV-L1', SECRET), await RawDevice.connect(ingress.tcpPort)];
    try {
      await waitFor(() => ingress.devices.connectionCount === 2, { what: 'two connections held' });
      const third = await RawDevice.connect(ingress.tcpPort);
      devices.push(third);
      expect((await third.errorAndClose()).code).toBe(WireErrorCode.BUSY);
      expect(devices[0].closed).toBe(false);
    } finally {
      for (const d of devices) d.close();
      await ingress.stop();
    }
  });

  it('disconnects a device that stops reading once its unread bytes pass the high-water mark', async () => {
    const ingress = await startTestIngress(uniquePrefix('ingress-hwm'), { tcp: { writeHighWaterBytes: 64 * 1024, maxFrameBytes: 65_536 } });
    const device = await RawDevice.handshake(ingress.tcpPort, 'DEV-STUCK', SECRET);
    device.socket.pause();
    try {
      await waitFor(() => ingress.devices.deliverable('DEV-STUCK'), { what: 'the device to be deliverable' });
      const payload = Buffer.alloc(60_000, 7).toString('base64');
      const answers: number[] = [];
      // Each COMMAND is 60 KB; the kernel buffers some, then the high-water mark trips.
      for (let i = 0; i < 200 && ingress.devices.deliverable('DEV-STUCK'); i++) {
        const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        void request(ingress.app)
          .post('/internal/v1/devices/DEV-STUCK/deliver')
          .set('Authorization', `Bearer ${TOKEN}`)
          .send({ id, payload, ackTimeoutMs: 30_000 })
          .then((r) => answers.push(r.status));
        await waitFor(() => (ingress.devices.connectionOf('DEV-STUCK')?.waitersFor(id) ?? 0) > 0 || !ingress.devices.deliverable('DEV-STUCK'), { what: `delivery ${i} written` });
      }
      await waitFor(() => ingress.devices.connectionOf('DEV-STUCK') === undefined, { what: 'the stuck device to be disconnected' });
      // Every waiting delivery is answered at once (404), not at its 30 s timeout.
      const written = (await ingress.metrics.framesOut.get()).values.find((v) => v.labels.type === 'COMMAND');
      expect(written?.value).toBeGreaterThan(1);
      await waitFor(() => answers.length >= 2, { what: 'the waiting deliveries to be answered' });
      expect(new Set(answers)).toEqual(new Set([404]));
      const metrics = await ingress.metrics.registry.getSingleMetricAsString('outbound_ingress_disconnects_total');
      expect(metrics).toContain('reason="write_high_water"');
    } finally {
      device.close();
      await ingress.stop();
    }
  });

  it('admits any PROOF when DEVICE_AUTH_MODE=none is set explicitly', async () => {
    const ingress = await startTestIngress(uniquePrefix('ingress-noauth'), { auth: { mode: 'none', secrets: [] } });
    const device = await RawDevice.connect(ingress.tcpPort);
    try {
      await device.challenge('DEV-OPEN');
      device.send(encodeFrame(FrameType.PROOF, Buffer.alloc(32, 9)));
      expect(await device.welcome()).toBe(30);
    } finally {
      device.close();
      await ingress.stop();
    }
  });

  it('speaks TLS when a certificate and key are configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ingress-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const ingress = await startTestIngress(uniquePrefix('ingress-tls'), { tcp: { tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem') } });
    try {
      const device = await RawDevice.handshake(ingress.tcpPort, 'DEV-TLS', SECRET, { tls: true });
      expect(await waitFor(() => ingress.registry.lookup('DEV-TLS'), { what: 'TLS route' })).toMatchObject({ replicaId: ingress.replicaId });
      device.close();
      const plain = await RawDevice.connect(ingress.tcpPort);
      plain.send(encodeHello2('DEV-PLAIN', Buffer.alloc(16)));
      await plain.waitClosed();
      expect(plain.frames).toEqual([]);
    } finally {
      await ingress.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
