import { randomUUID } from 'node:crypto';
import { AckStatus, WireErrorCode } from '@outbound/core';
import { DeviceHandshakeError, SimulatedDevice, type SimulatedDeviceOptions } from '@outbound/cli';
import { waitFor } from '@outbound/test-support';
import { TestPeer } from './test-peer';

const SECRET = 'test-secret';

describe('SimulatedDevice against a real TCP peer', () => {
  let peer: TestPeer;
  const devices: SimulatedDevice[] = [];

  function device(options: Partial<SimulatedDeviceOptions> = {}): SimulatedDevice {
    const d = new SimulatedDevice({ host: '127.0.0.1', port: peer.port, phyId: `DEV-${devices.length + 1}`, secret: SECRET, ...options });
    devices.push(d);
    return d;
  }

  beforeEach(async () => {
    peer = await TestPeer.start({ secrets: ['old-secret', SECRET] });
  });

  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.close()));
    await peer.stop();
  });

  it('authenticates with HELLO2 and a PROOF of its derived key, and learns the heartbeat from WELCOME', async () => {
    const d = device({ phyId: 'meter:7' });
    const welcomed = new Promise<number>((resolve) => d.once('welcome', resolve));
    await d.connect();
    expect(await welcomed).toBe(30);
    expect(d.connected).toBe(true);
    expect(d.stats.connects).toBe(1);
    expect((await peer.waitForDevice('meter:7')).phyId).toBe('meter:7');
  });

  it('rejects connect() with AUTH_FAILED when its secret is not configured', async () => {
    const d = device({ secret: 'wrong-secret' });
    const error = await d.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceHandshakeError);
    expect((error as DeviceHandshakeError).wireCode).toBe(WireErrorCode.AUTH_FAILED);
    expect(d.connected).toBe(false);
    expect(d.lastErrorFrame?.reason).toBe('PROOF matches no key');
  });

  it('refuses a server whose WELCOME does not prove it holds the device key', async () => {
    peer.forgeServerProof = true;
    const d = device({ phyId: 'DEV-IMPOSTOR' });
    const error = await d.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceHandshakeError);
    expect((error as Error).message).toMatch(/server's proof/);
    expect(d.connected).toBe(false);
    expect(d.stats.connects).toBe(0);
  });

  it('authenticates with a key derived from an older secret during a rotation', async () => {
    const d = device({ secret: 'old-secret' });
    await d.connect();
    expect(d.connected).toBe(true);
  });

  it('applies a command and ACKs it with its result after the configured latency', async () => {
    const d = device({ ackLatencyMs: { min: 40, max: 60 }, result: (id, payload) => Buffer.from(`${payload.toString()}@${id.slice(0, 4)}`) });
    const seen: Array<{ id: string; payload: string; duplicate: boolean }> = [];
    d.on('command', (c: { id: string; payload: Buffer; duplicate: boolean }) => seen.push({ ...c, payload: c.payload.toString() }));
    const latencies: number[] = [];
    d.on('ack', (a: { latencyMs: number }) => latencies.push(a.latencyMs));
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    conn.sendCommand(id, Buffer.from('power:on'));
    const [ack] = await conn.waitForAck(id);
    expect(ack.status).toBe(AckStatus.OK);
    expect(ack.result.toString()).toBe(`power:on@${id.slice(0, 4)}`);
    expect(seen).toEqual([{ id, payload: 'power:on', duplicate: false }]);
    expect(d.appliedIds).toEqual([id]);
    expect(latencies[0]).toBeGreaterThanOrEqual(39);
    expect(d.stats).toMatchObject({ received: 1, applied: 1, acked: 1, duplicates: 0 });
  });

  it('re-ACKs a duplicate id with the first result without applying it again', async () => {
    let n = 0;
    const d = device({ result: () => Buffer.from(`result-${++n}`) });
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const [first, other] = [randomUUID(), randomUUID()];
    conn.sendCommand(first);
    conn.sendCommand(other);
    conn.sendCommand(first);
    const acks = await conn.waitForAck(first, 2);
    await conn.waitForAck(other);
    expect(acks.map((a) => [a.status, a.result.toString()])).toEqual([
      [AckStatus.OK, 'result-1'],
      [AckStatus.OK, 'result-1'],
    ]);
    expect(d.appliedCount(first)).toBe(1);
    expect(d.appliedIds).toEqual([first, other]);
    expect(d.stats).toMatchObject({ received: 3, applied: 2, duplicates: 1, acked: 3 });
  });

  it('answers REJECTED at reject rate 1 and repeats REJECTED for a re-sent id', async () => {
    const d = device({ rejectRate: 1 });
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    conn.sendCommand(id);
    conn.sendCommand(id);
    const acks = await conn.waitForAck(id, 2);
    expect(acks.map((a) => a.status)).toEqual([AckStatus.REJECTED, AckStatus.REJECTED]);
    expect(d.appliedCount(id)).toBe(0);
    expect(d.stats).toMatchObject({ applied: 0, rejected: 2, duplicates: 1 });
  });

  it('answers BUSY at busy rate 1 without applying, and treats a re-send as a fresh attempt', async () => {
    const d = device({ busyRate: 1 });
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    conn.sendCommand(id);
    expect((await conn.waitForAck(id))[0].status).toBe(AckStatus.BUSY);
    expect(d.appliedCount(id)).toBe(0);
    d.setBehaviour({ busyRate: 0 });
    conn.sendCommand(id);
    const acks = await conn.waitForAck(id, 2);
    expect(acks[1].status).toBe(AckStatus.OK);
    expect(d.appliedCount(id)).toBe(1);
    expect(d.stats).toMatchObject({ busy: 1, acked: 1, applied: 1, duplicates: 0 });
  });

  it('withholds the ACK at no-ACK rate 1 (the command is applied), and re-ACKs the retry once ACKs flow again', async () => {
    const d = device({ noAckRate: 1 });
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    conn.sendCommand(id);
    // A PING after the COMMAND: its PONG proves the device got past the command with no ACK.
    conn.sendPing(Buffer.from('after-cmd'));
    await waitFor(() => conn.pongs.length === 1, { what: 'PONG' });
    expect(conn.pongs[0].toString()).toBe('after-cmd');
    expect(conn.acks).toEqual([]);
    expect(d.stats).toMatchObject({ received: 1, applied: 1, noAck: 1, acked: 0 });
    d.setBehaviour({ noAckRate: 0 });
    conn.sendCommand(id);
    expect((await conn.waitForAck(id))[0].status).toBe(AckStatus.OK);
    expect(d.appliedCount(id)).toBe(1);
    expect(d.stats.duplicates).toBe(1);
  });

  it('sends a PING every heartbeat interval', async () => {
    await peer.stop();
    peer = await TestPeer.start({ secrets: [SECRET], heartbeatSeconds: 1 });
    const d = device();
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    await waitFor(() => conn.pings.length >= 2, { timeoutMs: 5000, what: 'two heartbeat PINGs' });
    expect(conn.pings[0].length).toBeLessThanOrEqual(64);
  });

  it('sends no PING while its ACKs keep the connection busy (any frame is a heartbeat), and PINGs once it falls quiet', async () => {
    await peer.stop();
    peer = await TestPeer.start({ secrets: [SECRET], heartbeatSeconds: 1 });
    const d = device();
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    // A COMMAND every 100 ms for two and a half heartbeat intervals: every interval holds ACKs.
    const ids = Array.from({ length: 25 }, () => randomUUID());
    let next = 0;
    const sender = setInterval(() => {
      if (next < ids.length) conn.sendCommand(ids[next++]);
    }, 100);
    try {
      await waitFor(() => conn.acks.length === ids.length, { timeoutMs: 10_000, what: 'an ACK for every COMMAND' });
    } finally {
      clearInterval(sender);
    }
    expect(conn.pings).toEqual([]);
    await waitFor(() => conn.pings.length >= 1, { timeoutMs: 5000, what: 'a PING once no ACK went out for an interval' });
  });

  it('keeps the results it remembers intact when later reads reuse the buffer they arrived in', async () => {
    // The result is a view of the COMMAND's payload: the device must keep a copy of it.
    const d = device({ result: (_id, payload) => payload });
    const seen: Buffer[] = [];
    d.on('command', (command: { payload: Buffer }) => seen.push(command.payload));
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    const first = randomUUID();
    conn.sendCommand(first, Buffer.from('first-payload'));
    await conn.waitForAck(first);
    const second = randomUUID();
    conn.sendCommand(second, Buffer.from('other-payload'));
    await conn.waitForAck(second);
    // The re-sent id is answered from memory (whatever its payload now), after later reads went through the same buffer.
    conn.sendCommand(first, Buffer.from('resent'));
    const acks = await conn.waitForAck(first, 2);
    expect(acks.map((ack) => ack.result.toString())).toEqual(['first-payload', 'first-payload']);
    expect(seen.map((payload) => payload.toString())).toEqual(['first-payload', 'other-payload', 'resent']);
  });

  it('reconnects with backoff after the server drops the connection, and dedupes across connections', async () => {
    const d = device({ reconnect: { minMs: 20, maxMs: 100 } });
    await d.connect();
    const first = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    first.sendCommand(id);
    await first.waitForAck(id);
    first.socket.destroy();
    const second = await peer.waitForDevice(d.phyId, 2);
    await waitFor(() => d.connected, { what: 'reconnected' });
    expect(d.stats.connects).toBe(2);
    second.sendCommand(id);
    await second.waitForAck(id);
    expect(d.appliedCount(id)).toBe(1);
  });

  it('on GOAWAY finishes its pending ACK, closes its side, and reconnects no sooner than asked', async () => {
    const d = device({ ackLatencyMs: 80, reconnect: { minMs: 10, maxMs: 20 } });
    await d.connect();
    const first = await peer.waitForDevice(d.phyId);
    const id = randomUUID();
    first.sendCommand(id);
    const goawayAt = Date.now();
    first.sendGoaway(300);
    await first.waitForAck(id);
    await waitFor(() => first.closed, { what: 'old connection closed' });
    expect(first.endedByDevice).toBe(true);
    await peer.waitForDevice(d.phyId, 2);
    expect(Date.now() - goawayAt).toBeGreaterThanOrEqual(300);
    await waitFor(() => d.connected, { what: 'reconnected after GOAWAY' });
  });

  it('stops reading when paused, so the server sees its writes back up, and catches up on resume', async () => {
    const d = device();
    await d.connect();
    const conn = await peer.waitForDevice(d.phyId);
    d.pauseReading();
    const payload = Buffer.alloc(60_000, 1);
    let sent = 0;
    while (conn.socket.writableLength < 1_000_000 && sent < 2000) {
      conn.sendCommand(randomUUID(), payload);
      sent += 1;
      if (sent % 20 === 0) await new Promise((r) => setImmediate(r)); // let the kernel take what it will
    }
    expect(conn.socket.writableLength).toBeGreaterThanOrEqual(1_000_000);
    expect(d.stats.received).toBeLessThan(sent);
    d.resumeReading();
    await waitFor(() => d.stats.received === sent, { timeoutMs: 20_000, what: `all ${sent} commands read` });
    await waitFor(() => conn.acks.length === sent, { timeoutMs: 20_000, what: 'all ACKs' });
  });

  it('reconnects after IDLE_TIMEOUT but not after SUPERSEDED (two devices sharing a phyId would flap forever)', async () => {
    const idle = device({ reconnect: { minMs: 10, maxMs: 20 } });
    const superseded = device({ reconnect: { minMs: 10, maxMs: 20 } });
    await Promise.all([idle.connect(), superseded.connect()]);
    const closedIdle = new Promise<boolean>((resolve) => idle.once('close', () => resolve(idle.reconnecting)));
    const closedSuperseded = new Promise<boolean>((resolve) => superseded.once('close', () => resolve(superseded.reconnecting)));
    (await peer.waitForDevice(idle.phyId)).sendError(WireErrorCode.IDLE_TIMEOUT, 'silent for 75 s');
    (await peer.waitForDevice(superseded.phyId)).sendError(WireErrorCode.SUPERSEDED, 'connected again elsewhere');
    expect(await closedIdle).toBe(true);
    expect(await closedSuperseded).toBe(false);
    expect(superseded.lastErrorFrame?.code).toBe(WireErrorCode.SUPERSEDED);
    await peer.waitForDevice(idle.phyId, 2);
  });
});
