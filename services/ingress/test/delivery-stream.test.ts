import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AckStatus, encodeAck } from '@outbound/core';
import { DELIVERY_STREAM_PATH, DELIVERY_STREAM_PROTOCOL, LineSplitter } from '@outbound/core/delivery';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, TOKEN, startTestIngress } from './support/test-ingress';

/** What the ingress answered to an upgrade: the socket of an open stream, or the plain answer. */
type Opened =
  | { status: 101; upgrade: string | undefined; socket: Socket; lines: Array<Record<string, unknown>>; ended: Promise<void> }
  | { status: number; body: Record<string, unknown> };

function openStream(port: number, headers: Record<string, string>, path = DELIVERY_STREAM_PATH): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers });
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      const lines: Array<Record<string, unknown>> = [];
      const splitter = new LineSplitter();
      const onLine = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
      socket.on('data', (chunk: Buffer) => splitter.push(chunk, onLine));
      const ended = new Promise<void>((done) => socket.on('end', () => done()));
      if (head.length > 0) splitter.push(head, onLine);
      resolve({ status: 101, upgrade: res.headers.upgrade, socket, lines, ended });
    });
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) as Record<string, unknown> : {} }));
    });
    req.on('error', reject);
    req.end();
  });
}

const streamHeaders = { connection: 'Upgrade', upgrade: DELIVERY_STREAM_PROTOCOL, authorization: `Bearer ${TOKEN}` };
const item = (phyId: string, id = randomUUID()) => ({ phyId, id, payload: Buffer.from(`to ${phyId}`).toString('base64'), ackTimeoutMs: 5_000 });

describe('delivery stream (GET /internal/v1/delivery-stream, upgraded) against devices on real sockets', () => {
  let ingress: IngressHandle;
  const devices: RawDevice[] = [];
  const sockets: Socket[] = [];

  async function device(phyId: string): Promise<RawDevice> {
    const d = await RawDevice.handshake(ingress.tcpPort, phyId, SECRET);
    devices.push(d);
    await waitFor(() => ingress.devices.deliverable(phyId), { what: `${phyId} deliverable` });
    return d;
  }

  async function stream(): Promise<Extract<Opened, { status: 101 }>> {
    const opened = await openStream(ingress.httpPort, streamHeaders);
    if (!('socket' in opened)) throw new Error(`upgrade answered ${opened.status}`);
    sockets.push(opened.socket);
    return opened;
  }

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-stream'));
  });

  afterEach(() => {
    for (const d of devices.splice(0)) d.close();
    for (const s of sockets.splice(0)) s.destroy();
  });

  afterAll(async () => {
    await ingress.stop();
  });

  it('upgrades, delivers a batch line and answers each delivery tagged with its batch, hop stamps when asked', async () => {
    const dev = await device('ST-OK');
    const s = await stream();
    expect(s.upgrade).toBe(DELIVERY_STREAM_PROTOCOL);
    const one = item('ST-OK');
    s.socket.write(`${JSON.stringify({ s: 7, timing: true, deliveries: [one, item('ST-NOBODY')] })}\n`);
    const command = await dev.nextCommand();
    expect(command).toEqual({ id: one.id, payload: Buffer.from('to ST-OK') });
    dev.send(encodeAck(one.id, AckStatus.OK, Buffer.from('done')));
    await waitFor(() => s.lines.length === 2, { what: 'both answer lines' });
    const byPhy = new Map(s.lines.map((l) => [l.phyId, l]));
    expect(byPhy.get('ST-OK')).toMatchObject({ s: 7, id: one.id, status: 200, outcome: 'ok', result: Buffer.from('done').toString('base64'), t: { received: expect.any(Number), written: expect.any(Number), acked: expect.any(Number), answered: expect.any(Number) } });
    expect(byPhy.get('ST-NOBODY')).toMatchObject({ s: 7, status: 404, error: { code: 'DEVICE_NOT_CONNECTED' } });
    // The stream stays open for the next batch (no stamps unless asked).
    const two = item('ST-OK');
    s.socket.write(`${JSON.stringify({ s: 8, deliveries: [two] })}\n`);
    await dev.nextCommand();
    dev.send(encodeAck(two.id, AckStatus.OK));
    await waitFor(() => s.lines.length === 3, { what: 'the second batch\'s answer' });
    expect(s.lines[2]).toEqual({ s: 8, id: two.id, phyId: 'ST-OK', status: 200, outcome: 'ok', result: '', latencyMs: expect.any(Number) });
    const metrics = await ingress.metrics.registry.metrics();
    expect(metrics).toMatch(/^outbound_ingress_delivery_streams(\{[^}]*\})? 1$/m);
    expect(metrics).toMatch(/^outbound_ingress_delivery_stream_batches_total(\{[^}]*\})? 2$/m);
  });

  it('answers many concurrent batches in the order their devices answer, not the order they were sent', async () => {
    const devs = await Promise.all(['ST-A', 'ST-B', 'ST-C', 'ST-D'].map((p) => device(p)));
    const s = await stream();
    const items = devs.map((_, i) => item(`ST-${'ABCD'[i]}`));
    // Four batches in one write, one per device; the devices answer in reverse.
    s.socket.write(items.map((it, i) => `${JSON.stringify({ s: i, deliveries: [it] })}\n`).join(''));
    const commands = await Promise.all(devs.map((d) => d.nextCommand()));
    for (let i = devs.length - 1; i >= 0; i--) {
      devs[i]!.send(encodeAck(commands[i]!.id, AckStatus.OK));
      await waitFor(() => s.lines.length === devs.length - i, { what: `the answer of batch ${i}` });
    }
    expect(s.lines.map((l) => [l.s, l.id])).toEqual([3, 2, 1, 0].map((i) => [i, items[i]!.id]));
  });

  it('reads batch lines cut anywhere between reads, CRLF or LF, in the dispatcher\'s form or any other JSON', async () => {
    const devs = await Promise.all(['ST-CUT-A', 'ST-CUT-B', 'ST-CUT-C'].map((p) => device(p)));
    const s = await stream();
    s.socket.setNoDelay(true);
    const items = ['ST-CUT-A', 'ST-CUT-B', 'ST-CUT-C'].map((p) => item(p));
    const text = [
      `${JSON.stringify({ s: 11, deliveries: [items[0]] })}\n`,
      // Whitespace and another key order: not the form dispatchers write, read the general way.
      `{ "deliveries": [${JSON.stringify({ ackTimeoutMs: items[1]!.ackTimeoutMs, payload: items[1]!.payload, id: items[1]!.id, phyId: items[1]!.phyId })}], "s": 12 }\r\n\n`,
      `${JSON.stringify({ s: 13, deliveries: [items[2]] })}\r\n`,
    ].join('');
    for (let at = 0; at < text.length; at += 7) {
      s.socket.write(text.slice(at, at + 7));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const commands = await Promise.all(devs.map((d) => d.nextCommand()));
    expect(commands.map((c) => c.id)).toEqual(items.map((it) => it.id));
    devs.forEach((d, i) => d.send(encodeAck(commands[i]!.id, AckStatus.OK)));
    await waitFor(() => s.lines.length === 3, { what: 'three answer lines' });
    expect(s.lines.map((l) => [l.s, l.id, l.status]).sort()).toEqual([[11, items[0]!.id, 200], [12, items[1]!.id, 200], [13, items[2]!.id, 200]]);
  });

  it('answers a bad item on its own line and keeps the stream', async () => {
    await device('ST-ITEM');
    const s = await stream();
    const bad = { ...item('ST-ITEM'), ackTimeoutMs: 0 };
    s.socket.write(`${JSON.stringify({ s: 1, deliveries: [bad] })}\n`);
    await waitFor(() => s.lines.length === 1, { what: 'the bad item\'s line' });
    expect(s.lines[0]).toMatchObject({ s: 1, id: bad.id, status: 400, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('deliveries.0.ackTimeoutMs') } });
    expect(s.socket.destroyed).toBe(false);
  });

  it.each([
    ['a line that is not JSON', 'this is not json', null, '(line): must be JSON'],
    ['a batch without its number', JSON.stringify({ deliveries: [item('ST-X')] }), null, 's: must be an integer'],
    ['a batch with no deliveries', JSON.stringify({ s: 4, deliveries: [] }), 4, 'deliveries: must hold 1 to'],
    ['an unknown key', JSON.stringify({ s: 5, deliveries: [item('ST-X')], extra: 1 }), 5, 'Unrecognized key: "extra"'],
  ])('answers %s with a 400 line naming the field, then closes the stream', async (_what, line, s, message) => {
    const opened = await stream();
    opened.socket.write(`${line}\n`);
    await opened.ended;
    expect(opened.lines).toEqual([{ s, id: null, phyId: null, status: 400, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining(message) } }]);
  });

  it('requires the internal token: 401 JSON instead of 101', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token']) {
      const headers: Record<string, string> = { connection: 'Upgrade', upgrade: DELIVERY_STREAM_PROTOCOL };
      if (authorization) headers.authorization = authorization;
      const opened = await openStream(ingress.httpPort, headers);
      expect(opened).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    }
  });

  it('refuses another upgrade protocol (400) and another path (404)', async () => {
    expect(await openStream(ingress.httpPort, { ...streamHeaders, upgrade: 'websocket' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await openStream(ingress.httpPort, streamHeaders, '/internal/v1/elsewhere')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
  });

  it('outlives the HTTP request timeouts: an upgraded stream is no longer a request', async () => {
    const short = await startTestIngress(uniquePrefix('ingress-stream-timeouts'), { http: { headersTimeoutMs: 200, requestTimeoutMs: 300 } });
    const dev = await RawDevice.handshake(short.tcpPort, 'ST-LONG', SECRET);
    devices.push(dev);
    try {
      await waitFor(() => short.devices.deliverable('ST-LONG'), { what: 'ST-LONG deliverable' });
      const opened = await openStream(short.httpPort, streamHeaders);
      if (!('socket' in opened)) throw new Error(`upgrade answered ${opened.status}`);
      sockets.push(opened.socket);
      // Several times the request timeout (the server checks every 75 ms here), measured by the clock, not slept and hoped.
      const until = Date.now() + 1_200;
      await waitFor(() => Date.now() >= until, { what: 'four request timeouts to pass', intervalMs: 100 });
      expect(opened.socket.destroyed).toBe(false);
      const one = item('ST-LONG');
      opened.socket.write(`${JSON.stringify({ s: 1, deliveries: [one] })}\n`);
      await dev.nextCommand();
      dev.send(encodeAck(one.id, AckStatus.OK));
      await waitFor(() => opened.lines.length === 1, { what: 'the answer after the timeouts' });
      expect(opened.lines[0]).toMatchObject({ s: 1, id: one.id, status: 200, outcome: 'ok' });
    } finally {
      await short.stop();
    }
  });

  it('an ingress with INGRESS_DELIVERY_STREAM=false answers the upgrade as a plain request (404), as an older one does', async () => {
    const plain = await startTestIngress(uniquePrefix('ingress-no-stream'), { http: { deliveryStream: false } });
    try {
      const opened = await openStream(plain.httpPort, streamHeaders);
      expect(opened.status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
