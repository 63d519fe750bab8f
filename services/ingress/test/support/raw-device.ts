import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  AckStatus, decodeChallenge, decodeCommand, decodeError, decodeGoaway, decodeWelcome, deriveDeviceKey, deviceProof, encodeAck, encodeHello2,
  encodeProof, FrameDecoder, FrameType, NONCE_BYTES, verifyServerProof, wireErrorName, type Frame,
} from '@outbound/core';
import { waitFor } from '@outbound/test-support';

/**
 * A device driven by the test step by step over a real socket, speaking the wire protocol
 * through the codec (and able to send raw bytes for the malformed cases).
 */
export class RawDevice {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 1 << 24 });
  private autoAck: { status: number; result: Buffer } | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) {
        const copy = { type: frame.type, body: Buffer.from(frame.body) };
        this.frames.push(copy);
        if (this.autoAck && copy.type === FrameType.COMMAND) this.send(encodeAck(decodeCommand(copy.body).id, this.autoAck.status, this.autoAck.result));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** `localAddress` (any of 127.0.0.0/8) makes the connection come from another source address. */
  static async connect(port: number, options: { tls?: boolean; localAddress?: string } = {}): Promise<RawDevice> {
    const socket = options.tls
      ? tlsConnect({ socket: connect({ port, host: '127.0.0.1', localAddress: options.localAddress }), rejectUnauthorized: false })
      : connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawDevice(socket);
  }

  /**
   * Connects and completes the challenge-response handshake with the key derived from
   * `secret` (or a provisioned `key`), and checks the server's proof in WELCOME. `beforeProof`
   * runs between CHALLENGE and PROOF.
   */
  static async handshake(
    port: number,
    phyId: string,
    secret: string | { key: Buffer },
    options: { tls?: boolean; localAddress?: string; beforeProof?: () => void } = {},
  ): Promise<RawDevice> {
    const device = await RawDevice.connect(port, options);
    const key = typeof secret === 'string' ? deriveDeviceKey(secret, phyId) : secret.key;
    const { clientNonce, serverNonce } = await device.challenge(phyId);
    // The server has read the device's credentials; PROOF makes it send WELCOME and record the route.
    options.beforeProof?.();
    device.send(encodeProof(deviceProof(key, phyId, clientNonce, serverNonce)));
    const answer = await waitFor(() => device.frames.find((f) => f.type === FrameType.WELCOME || f.type === FrameType.ERROR), { what: 'WELCOME or ERROR' });
    if (answer.type === FrameType.ERROR) {
      device.close();
      const error = decodeError(answer.body);
      throw new Error(`${phyId}: handshake refused with ERROR ${wireErrorName(error.code)}: ${error.reason}`);
    }
    const welcome = decodeWelcome((await device.next(FrameType.WELCOME)).body);
    if (!welcome.serverProof || !verifyServerProof(key, serverNonce, clientNonce, welcome.serverProof)) {
      device.close();
      throw new Error(`${phyId}: the WELCOME's server proof does not match the device key`);
    }
    return device;
  }

  /** Sends HELLO2 and waits for the CHALLENGE; answers both nonces. */
  async challenge(phyId: string, clientNonce: Buffer = randomBytes(NONCE_BYTES)): Promise<{ clientNonce: Buffer; serverNonce: Buffer }> {
    this.send(encodeHello2(phyId, clientNonce));
    return { clientNonce, serverNonce: decodeChallenge((await this.next(FrameType.CHALLENGE)).body).serverNonce };
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** ACK every COMMAND at once with this status. */
  ackAll(status: number = AckStatus.OK, result: Buffer = Buffer.alloc(0)): this {
    this.autoAck = { status, result };
    return this;
  }

  /** Waits for the first frame of `type` not yet taken, and takes it. */
  async next(type: number, timeoutMs = 5_000): Promise<Frame> {
    const frame = await waitFor(() => this.frames.find((f) => f.type === type), { timeoutMs, what: `frame 0x${type.toString(16)}` });
    this.frames.splice(this.frames.indexOf(frame), 1);
    return frame;
  }

  async nextCommand(): Promise<{ id: string; payload: Buffer }> {
    return decodeCommand((await this.next(FrameType.COMMAND)).body);
  }

  async welcome(): Promise<number> {
    return decodeWelcome((await this.next(FrameType.WELCOME)).body).heartbeatSeconds;
  }

  /** Waits for an ERROR frame and then the close that must follow it. */
  async errorAndClose(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    const error = decodeError((await this.next(FrameType.ERROR, timeoutMs)).body);
    await this.waitClosed(timeoutMs);
    return error;
  }

  async goaway(): Promise<number> {
    return decodeGoaway((await this.next(FrameType.GOAWAY)).body).reconnectAfterMs;
  }

  async waitClosed(timeoutMs = 5_000): Promise<void> {
    await waitFor(() => this.closed, { timeoutMs, what: 'the server to close the connection' });
  }

  close(): void {
    this.socket.destroy();
  }
}
