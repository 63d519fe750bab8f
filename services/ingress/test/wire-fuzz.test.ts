import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import {
  decodeChallenge, decodeError, decodeWelcome, deriveDeviceKey, deviceProof, encodeHello2, encodeProof, FrameDecoder, FrameType,
  verifyServerProof, wireErrorName, type Frame,
} from '@outbound/core';
import { waitFor } from '@outbound/test-support';
import { startIngressProcess, type IngressProcess } from './support/ingress-process';
import { WireFuzz, type FuzzCase } from './support/wire-fuzz-cases';

/*
 * Deterministic wire fuzzing of the built ingress in its own process. Every case is one
 * connection; every broken one must end in exactly the ERROR the protocol names, then the
 * server's close; valid ones must stay up. The process must not crash, must hold no connection
 * afterwards, and must retain no more memory than it started with (plus a small margin).
 * `npm run fuzz -- --frames N [--seed S]` runs the same test for longer.
 */
const FRAMES = Number(process.env.OUTBOUND_FUZZ_FRAMES ?? 20_000);
const SEED = Number(process.env.OUTBOUND_FUZZ_SEED ?? 20_261_201);
const CONCURRENCY = 48;
const MAX_FRAME = 4096;
const SECRET = 'wire-fuzz-fleet-secret-0123456789abcdef';
const ALLOWED_BEFORE_ERROR = new Set<number>([FrameType.CHALLENGE, FrameType.WELCOME, FrameType.PONG]);

interface Outcome {
  frames: Frame[];
  closed: boolean;
}

/** Runs one case on its own connection; answers what the server sent and whether it closed. */
async function run(port: number, c: FuzzCase): Promise<Outcome> {
  const socket: Socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20 });
  const outcome: Outcome = { frames: [], closed: false };
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) outcome.frames.push({ type: f.type, body: Buffer.from(f.body) });
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (outcome.closed = true));
  const take = async (type: number): Promise<Frame> => {
    const frame = await waitFor(() => outcome.frames.find((f) => f.type === type || f.type === FrameType.ERROR) ?? (outcome.closed ? 'closed' : undefined), { what: `case ${c.index}: frame ${type}` });
    if (frame === 'closed' || frame.type === FrameType.ERROR) throw new Error(`case ${c.index} (${c.kind}): handshake refused: ${frame === 'closed' ? 'closed' : wireErrorName(decodeError(frame.body).code)}`);
    return frame;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (c.stage !== 'connected') {
      const clientNonce = randomBytes(16);
      socket.write(encodeHello2(c.phyId, clientNonce));
      const { serverNonce } = decodeChallenge((await take(FrameType.CHALLENGE)).body);
      if (c.stage === 'welcomed') {
        const key = deriveDeviceKey(SECRET, c.phyId);
        socket.write(encodeProof(deviceProof(key, c.phyId, clientNonce, serverNonce)));
        const welcome = decodeWelcome((await take(FrameType.WELCOME)).body);
        if (!verifyServerProof(key, serverNonce, clientNonce, welcome.serverProof!)) throw new Error(`case ${c.index}: bad server proof`);
      }
    }
    for (const chunk of c.chunks) socket.write(chunk);
    if (c.expect === null) {
      // A valid session: the server answers one more PING, and has sent no ERROR.
      socket.write(Buffer.from([0x4f, 0x42, 0x01, FrameType.PING, 0, 0, 0, 2, 0x7a, 0x7a]));
      await waitFor(() => outcome.frames.some((f) => f.type === FrameType.PONG && f.body.toString() === 'zz') || outcome.closed, { what: `case ${c.index}: final PONG` });
    } else {
      await waitFor(() => outcome.closed, { what: `case ${c.index} (${c.kind}): the server's close` });
    }
    return outcome;
  } finally {
    socket.destroy();
  }
}

function verdict(c: FuzzCase, outcome: Outcome): string | null {
  const errors = outcome.frames.filter((f) => f.type === FrameType.ERROR);
  const label = `case ${c.index} (${c.kind}, seed ${SEED})`;
  if (c.expect === null) {
    if (errors.length > 0 || outcome.closed) return `${label}: valid session got ${errors.map((e) => wireErrorName(decodeError(e.body).code)).join(',') || 'a close'}`;
    return null;
  }
  const last = outcome.frames.at(-1);
  if (errors.length !== 1 || last?.type !== FrameType.ERROR) return `${label}: expected one ERROR as the last frame, got types ${outcome.frames.map((f) => f.type).join(',')}`;
  const code = decodeError(last.body).code;
  if (code !== c.expect) return `${label}: expected ${wireErrorName(c.expect)}, got ${wireErrorName(code)} (${decodeError(last.body).reason})`;
  const stray = outcome.frames.slice(0, -1).find((f) => !ALLOWED_BEFORE_ERROR.has(f.type));
  if (stray) return `${label}: unexpected frame type ${stray.type} before the ERROR`;
  if (!outcome.closed) return `${label}: not closed after ERROR`;
  return null;
}

describe(`wire fuzz: ${FRAMES} frames, seed ${SEED}`, () => {
  let ingress: IngressProcess;

  beforeAll(async () => {
    ingress = await startIngressProcess(
      {
        DEVICE_AUTH_SECRETS: SECRET,
        INGRESS_MAX_FRAME_BYTES: String(MAX_FRAME),
        INGRESS_ERROR_LINGER_MS: '500',
        // One address and thousands of handshakes: the rate limits are tested on their own.
        INGRESS_HANDSHAKES_PER_IP: '0',
        INGRESS_HANDSHAKES_PER_PHY_ID: '0',
        LOG_LEVEL: 'warn',
      },
      { measured: true },
    );
  });
  afterAll(() => ingress?.stop());

  it('answers every broken case with its ERROR then a close, keeps valid sessions, and neither crashes nor grows', async () => {
    const fuzz = new WireFuzz(SEED, { maxFrameBytes: MAX_FRAME });
    const before = await ingress.retainedBytes();
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    let frames = 0;
    let cases = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (frames < FRAMES && failures.length < 20) {
        const c = fuzz.next();
        frames += c.frames + (c.stage === 'connected' ? 0 : c.stage === 'challenged' ? 1 : 2);
        cases++;
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        try {
          const problem = verdict(c, await run(ingress.tcpPort, c));
          if (problem) failures.push(problem);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures).toEqual([]);
    expect(ingress.child.exitCode).toBeNull();
    await waitFor(async () => (await ingress.metric('outbound_ingress_open_connections')) === 0, { what: 'every fuzz connection gone' });
    const after = await ingress.retainedBytes();
    const growth = after.heapUsed + after.external - (before.heapUsed + before.external);
    console.log(
      `wire fuzz seed ${SEED}: ${frames} frames in ${cases} connections, ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `retained memory ${growth >= 0 ? '+' : ''}${(growth / 1e6).toFixed(2)} MB; cases: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    );
    expect(kinds.size).toBe(17);
    expect(growth).toBeLessThan(8 * 1024 * 1024);
    expect((await fetch(`${ingress.base}/healthz`)).status).toBe(200);
  }, Number(process.env.OUTBOUND_FUZZ_TIMEOUT_MS ?? 120_000));
});
