import { randomBytes } from 'node:crypto';
import {
  decodeWelcome, deriveDeviceKey, deviceProof, deviceToken, encodeFrame, encodeHello, encodePing, encodeProof, FrameType, WireErrorCode,
} from '@outbound/core';
import type { IngressHandle } from '@outbound/ingress';
import { uniquePrefix, waitFor } from '@outbound/test-support';
import { RawDevice } from './support/raw-device';
import { SECRET, startTestIngress } from './support/test-ingress';

async function authFailures(ingress: IngressHandle, reason: string): Promise<number> {
  return (await ingress.metrics.authFailures.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('challenge-response handshake (HELLO2, CHALLENGE, PROOF, WELCOME with server proof)', () => {
  let ingress: IngressHandle;
  const devices: RawDevice[] = [];
  const open = async (): Promise<RawDevice> => {
    const d = await RawDevice.connect(ingress.tcpPort);
    devices.push(d);
    return d;
  };

  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-v2'), { timing: { handshakeTimeoutMs: 400 } });
  });
  afterEach(() => {
    for (const d of devices.splice(0)) d.close();
  });
  afterAll(() => ingress.stop());

  it('answers a wrong PROOF with AUTH_FAILED and records no route', async () => {
    const device = await open();
    const { clientNonce, serverNonce } = await device.challenge('DEV-WRONG');
    device.send(encodeProof(deviceProof(deriveDeviceKey('not-the-fleet-secret-0123456789abcdef', 'DEV-WRONG'), 'DEV-WRONG', clientNonce, serverNonce)));
    expect(await device.errorAndClose()).toMatchObject({ code: WireErrorCode.AUTH_FAILED });
    expect(await ingress.registry.lookup('DEV-WRONG')).toBeNull();
    expect(await authFailures(ingress, 'bad_proof')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a PROOF replayed on a new connection (the server nonce is fresh)', async () => {
    const key = deriveDeviceKey(SECRET, 'DEV-REPLAY');
    const first = await open();
    const clientNonce = randomBytes(16);
    const { serverNonce } = await first.challenge('DEV-REPLAY', clientNonce);
    const captured = encodeProof(deviceProof(key, 'DEV-REPLAY', clientNonce, serverNonce));
    first.send(captured);
    await first.welcome();
    // An attacker replays HELLO2 (same client nonce) and the captured PROOF.
    const attacker = await open();
    const replay = await attacker.challenge('DEV-REPLAY', clientNonce);
    expect(replay.serverNonce.equals(serverNonce)).toBe(false);
    attacker.send(captured);
    expect((await attacker.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);
    expect(first.closed).toBe(false);
  });

  it('uses a key provisioned in the credential store instead of the derived one', async () => {
    const key = randomBytes(32);
    await ingress.credentials.setKey('DEV-PROV', key);
    const device = await RawDevice.handshake(ingress.tcpPort, 'DEV-PROV', { key });
    devices.push(device);
    // The derived key no longer works for this device.
    await expect(RawDevice.handshake(ingress.tcpPort, 'DEV-PROV', SECRET)).rejects.toThrow(/AUTH_FAILED/);
    // Back to the derived key once the provisioned one is removed.
    await ingress.credentials.deleteKey('DEV-PROV');
    devices.push(await RawDevice.handshake(ingress.tcpPort, 'DEV-PROV', SECRET));
  });

  it('refuses a revoked device with AUTH_FAILED, and admits it again once the revocation is lifted', async () => {
    await ingress.credentials.revoke('DEV-REVOKED');
    const device = await open();
    const { clientNonce, serverNonce } = await device.challenge('DEV-REVOKED');
    device.send(encodeProof(deviceProof(deriveDeviceKey(SECRET, 'DEV-REVOKED'), 'DEV-REVOKED', clientNonce, serverNonce)));
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);
    expect(await ingress.registry.lookup('DEV-REVOKED')).toBeNull();
    await ingress.credentials.unrevoke('DEV-REVOKED');
    devices.push(await RawDevice.handshake(ingress.tcpPort, 'DEV-REVOKED', SECRET));
  });

  it('answers no PROOF within the handshake timeout with AUTH_FAILED', async () => {
    const device = await open();
    await device.challenge('DEV-SLOW');
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);
    expect(await authFailures(ingress, 'proof_timeout')).toBeGreaterThanOrEqual(1);
  });

  it('answers any other frame between HELLO2 and PROOF with PROTOCOL', async () => {
    const device = await open();
    await device.challenge('DEV-CHATTY');
    device.send(encodePing());
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.PROTOCOL);
  });

  it('answers a PROOF of the wrong length with BAD_FRAME', async () => {
    const device = await open();
    await device.challenge('DEV-SHORT');
    device.send(encodeFrame(FrameType.PROOF, Buffer.alloc(31)));
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
  });

  it('refuses the v1 static-token HELLO with AUTH_FAILED while legacy auth is off', async () => {
    const device = await open();
    device.send(encodeHello('DEV-V1', deviceToken('DEV-V1', SECRET)));
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);
    expect(await authFailures(ingress, 'legacy_disabled')).toBeGreaterThanOrEqual(1);
  });

  it('answers a handshake frame declaring more than 512 bytes with TOO_LARGE before reading its body', async () => {
    const device = await open();
    const header = encodeFrame(FrameType.HELLO2, Buffer.alloc(0));
    header.writeUInt32BE(513, 4);
    device.send(header);
    expect((await device.errorAndClose()).code).toBe(WireErrorCode.TOO_LARGE);
    // Past WELCOME the configured frame limit applies again.
    const welcomed = await RawDevice.handshake(ingress.tcpPort, 'DEV-BIGGER', SECRET);
    devices.push(welcomed);
    welcomed.send(encodeFrame(FrameType.PING, Buffer.alloc(600)));
    // Read whole and judged by PING's own limit (BAD_FRAME), not refused by its size (TOO_LARGE).
    expect((await welcomed.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);
  });
});

describe('legacy static-token HELLO (INGRESS_LEGACY_TOKEN_AUTH=true)', () => {
  let ingress: IngressHandle;
  beforeAll(async () => {
    ingress = await startTestIngress(uniquePrefix('ingress-v1'), { auth: { legacyTokenAuth: true } });
  });
  afterAll(() => ingress.stop());

  it('welcomes a v1 token (2-byte WELCOME), and refuses a wrong, non-hex or revoked one', async () => {
    const good = await RawDevice.connect(ingress.tcpPort);
    good.send(encodeHello('DEV-LEGACY', deviceToken('DEV-LEGACY', SECRET)));
    const welcome = decodeWelcome((await good.next(FrameType.WELCOME)).body);
    expect(welcome).toEqual({ heartbeatSeconds: 30, serverProof: null });
    await waitFor(() => ingress.registry.lookup('DEV-LEGACY'), { what: 'the legacy device route' });
    good.close();

    const wrong = await RawDevice.connect(ingress.tcpPort);
    wrong.send(encodeHello('DEV-LEGACY', deviceToken('DEV-LEGACY', 'another-fleet-secret-0123456789abcd')));
    expect((await wrong.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);

    const upper = await RawDevice.connect(ingress.tcpPort);
    upper.send(encodeHello('DEV-LEGACY', deviceToken('DEV-LEGACY', SECRET).toUpperCase()));
    expect((await upper.errorAndClose()).code).toBe(WireErrorCode.BAD_FRAME);

    await ingress.credentials.revoke('DEV-LEGACY');
    const revoked = await RawDevice.connect(ingress.tcpPort);
    revoked.send(encodeHello('DEV-LEGACY', deviceToken('DEV-LEGACY', SECRET)));
    expect((await revoked.errorAndClose()).code).toBe(WireErrorCode.AUTH_FAILED);
  });

  it('still speaks HELLO2', async () => {
    const device = await RawDevice.handshake(ingress.tcpPort, 'DEV-BOTH', SECRET);
    device.close();
  });
});
