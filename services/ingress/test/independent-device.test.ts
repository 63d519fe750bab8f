import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from './support/ingress-process';

/**
 * A device written from docs/protocol.md alone (Python, standard library, no code shared with
 * the project) against the real `node services/ingress/dist/main.js`.
 */
const MAIN = join(__dirname, '..', 'dist', 'main.js');
const DEVICE = join(__dirname, 'independent-device', 'device.py');
const SECRET = 'independent-device-fleet-secret-0123456789';
const INTERNAL_TOKEN = 'independent-device-internal-token';
const MAX_FRAME = 4096;
const HEARTBEAT_SECONDS = 1;
const HANDSHAKE_TIMEOUT_MS = 400;

type Json = Record<string, unknown>;

/**
 * Starts the built ingress as its own process (support/ingress-process.ts: it listens on both of
 * its ports and /readyz answers 200; started again on other ports when another process of the
 * test run took one of those chosen free).
 */
function startIngress(name: string, extraEnv: Record<string, string> = {}): Promise<IngressProcess> {
  return startIngressProcess({
    REGISTRY_PREFIX: uniquePrefix(`independent-device-${name}`),
    INGRESS_REPLICA_ID: `independent-${name}`,
    // Rotation: the device signs with the second secret.
    DEVICE_AUTH_SECRETS: `retired-fleet-secret-0123456789abcdef,${SECRET}`,
    INTERNAL_TOKEN,
    INGRESS_MAX_FRAME_BYTES: String(MAX_FRAME),
    INGRESS_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
    INGRESS_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
    INGRESS_SHUTDOWN_GRACE_MS: '3000',
    INGRESS_GOAWAY_SPREAD_MS: '0',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  });
}

/** The Python device as a child process; every stdout line it prints is one JSON object. */
class PythonDevice {
  readonly lines: Json[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(mode: string, port: number, phyId: string, extra: string[] = []) {
    this.child = spawn('python3', [DEVICE, mode, '--port', String(port), '--phy-id', phyId, '--secret', SECRET,
      '--max-frame', String(MAX_FRAME), '--timeout', '6', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, nl)) as Json);
        buffered = buffered.slice(nl + 1);
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The single report line of a malformed mode, once the program has exited 0. */
  async report(): Promise<Json> {
    const code = await this.exited;
    if (code !== 0) throw new Error(`device exited ${code}: ${JSON.stringify(this.lines)} ${this.stderr}`);
    expect(this.lines).toHaveLength(1);
    return this.lines[0]!;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

describe('an independent Python device against node services/ingress/dist/main.js', () => {
  let ingress: IngressProcess | undefined;
  let limited: IngressProcess | undefined;
  const devices: PythonDevice[] = [];
  const device = (...args: ConstructorParameters<typeof PythonDevice>) => {
    const d = new PythonDevice(...args);
    devices.push(d);
    return d;
  };

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before this test`);
    const started = await Promise.allSettled([startIngress('main'), startIngress('limited', { INGRESS_MAX_CONNECTIONS: '1' })]);
    [ingress, limited] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
    // one that did not start fails the suite; afterAll still stops the other
    for (const s of started) if (s.status === 'rejected') throw s.reason;
  });

  afterAll(async () => {
    for (const d of devices) d.kill();
    await Promise.all(devices.map((d) => d.exited));
    await Promise.all([ingress?.stop(), limited?.stop()]);
  });

  it('authenticates, stays alive on its PINGs, receives a COMMAND sent through the delivery endpoint and ACKs it', async () => {
    const phyId = `PY-${randomBytes(3).toString('hex')}`;
    const result = Buffer.from('applied:42');
    const dev = device('serve', ingress!.tcpPort, phyId, ['--result-hex', result.toString('hex')]);
    await waitFor(() => dev.lines.find((l) => l.event === 'welcome'), { what: 'WELCOME' });
    expect(dev.lines[0]).toEqual({ event: 'welcome', heartbeatSeconds: HEARTBEAT_SECONDS });
    // Three answered PINGs span more than the 2.5-interval idle limit: the heartbeat keeps it connected.
    await waitFor(() => dev.lines.filter((l) => l.event === 'pong').length >= 3, { timeoutMs: 6_000, what: 'three PONGs' });

    const id = randomUUID();
    const payload = Buffer.from([0x00, 0xff, 0x10, ...Buffer.from('set-power:on')]);
    const res = await fetch(`${ingress!.base}/internal/v1/devices/${phyId}/deliver`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTERNAL_TOKEN}` },
      body: JSON.stringify({ id, payload: payload.toString('base64'), ackTimeoutMs: 5_000 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'ok', result: result.toString('base64') });

    expect(await dev.exited).toBe(0);
    const commands = dev.lines.filter((l) => l.event === 'command');
    expect(commands).toEqual([{ event: 'command', id, payloadHex: payload.toString('hex'), duplicate: false }]);
    expect(dev.lines.at(-1)).toEqual({ event: 'done', commands: 1 });
  });

  const cases: Array<[mode: string, code: number, name: string]> = [
    ['bad-magic', 1, 'BAD_FRAME'],
    ['bad-version', 1, 'BAD_FRAME'],
    ['bad-hello-body', 1, 'BAD_FRAME'],
    ['v1-hello', 2, 'AUTH_FAILED'],
    ['wrong-proof', 2, 'AUTH_FAILED'],
    ['proof-timeout', 2, 'AUTH_FAILED'],
    ['ping-before-proof', 8, 'PROTOCOL'],
    ['big-pong', 1, 'BAD_FRAME'],
    ['too-large', 3, 'TOO_LARGE'],
    ['too-large-after-welcome', 3, 'TOO_LARGE'],
    ['handshake-timeout', 4, 'HANDSHAKE_TIMEOUT'],
    ['idle', 6, 'IDLE_TIMEOUT'],
    ['unknown-type', 8, 'PROTOCOL'],
    ['command-from-device', 8, 'PROTOCOL'],
    ['hello-twice', 8, 'PROTOCOL'],
    ['ack-before-hello', 8, 'PROTOCOL'],
  ];

  it.each(cases)('%s gets ERROR %i (%s) and then the server closes', async (mode, code, name) => {
    const report = await device(mode, ingress!.tcpPort, `PY-${mode}-${randomBytes(2).toString('hex')}`).report();
    expect(report).toMatchObject({ mode, error: { code, name }, closedByServer: true, close: 'eof', framesBeforeError: [] });
    // The device's clock and the server's timer differ by a few ms (a timer may fire up to a tick early).
    if (mode === 'handshake-timeout') expect(report.elapsedMs).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 20);
    // Silence is measured from the device's WELCOME, a little after the server's clock started.
    if (mode === 'idle') expect(report.elapsedMs).toBeGreaterThanOrEqual(HEARTBEAT_SECONDS * 2_500 - 250);
  });

  it('a PROOF replayed on a new connection (same HELLO2) meets a fresh server nonce and gets ERROR 2 (AUTH_FAILED)', async () => {
    const report = await device('replayed-proof', ingress!.tcpPort, `PY-replay-${randomBytes(2).toString('hex')}`).report();
    expect(report).toMatchObject({ firstWelcomed: true, serverNonceDiffers: true, error: { code: 2, name: 'AUTH_FAILED' }, closedByServer: true });
  });

  it('a second connection with the same phyId supersedes the first: ERROR 5 (SUPERSEDED) and a close; the second stays', async () => {
    const report = await device('supersede', ingress!.tcpPort, `PY-sup-${randomBytes(2).toString('hex')}`).report();
    expect(report).toMatchObject({ error: { code: 5, name: 'SUPERSEDED' }, closedByServer: true, close: 'eof', secondWelcomed: true, secondAlive: true });
  });

  it('past the connection limit (INGRESS_MAX_CONNECTIONS=1) a connection gets ERROR 7 (BUSY) and a close; the first stays', async () => {
    const report = await device('busy', limited!.tcpPort, `PY-busy-${randomBytes(2).toString('hex')}`).report();
    expect(report).toMatchObject({ error: { code: 7, name: 'BUSY' }, closedByServer: true, close: 'eof', firstAlive: true });
  });
});
