import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import {
  FrameDecoder,
  FrameType,
  WireErrorCode,
  decodeAck,
  decodeHello,
  decodeHello2,
  decodeProof,
  deriveDeviceKey,
  encodeChallenge,
  matchDeviceProof,
  serverProof,
  encodeCommand,
  encodeError,
  encodeGoaway,
  encodePing,
  encodeWelcome,
  verifyDeviceToken,
} from '@outbound/core';
import { waitFor } from '@outbound/test-support';

/**
 * A test-only server side of the protocol over a real socket, built on the codec: it runs the
 * HELLO2 / CHALLENGE / PROOF handshake (and checks v1 HELLO tokens), sends WELCOME, writes COMMANDs and records what the device sends back. Just
 * enough to drive the simulator; the real server is services/ingress.
 */
export interface PeerAck {
  id: string;
  status: number;
  result: Buffer;
}

export class PeerConnection {
  phyId = '';
  welcomed = false;
  closed = false;
  /** The device ended its side (half-close) before the socket closed. */
  endedByDevice = false;
  readonly acks: PeerAck[] = [];
  readonly pings: Buffer[] = [];
  readonly pongs: Buffer[] = [];

  constructor(readonly socket: Socket) {}

  sendCommand(id: string, payload: Buffer = Buffer.from('cmd')): boolean {
    return this.socket.write(encodeCommand(id, payload));
  }

  sendPing(data: Buffer): void {
    this.socket.write(encodePing(data));
  }

  sendGoaway(reconnectAfterMs: number): void {
    this.socket.write(encodeGoaway(reconnectAfterMs));
  }

  /** Sends ERROR and closes, as the server does. */
  sendError(code: number, reason: string): void {
    this.socket.end(encodeError(code, reason));
  }

  acksFor(id: string): PeerAck[] {
    return this.acks.filter((ack) => ack.id === id);
  }

  waitForAck(id: string, count = 1): Promise<PeerAck[]> {
    return waitFor(() => (this.acksFor(id).length >= count ? this.acksFor(id) : undefined), { what: `${count} ACK(s) for ${id} from ${this.phyId}` });
  }
}

export class TestPeer {
  readonly connections: PeerConnection[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  /** Answer PROOF with a WELCOME whose server proof is wrong (an impostor server). */
  forgeServerProof = false;

  private constructor(
    private readonly secrets: string[],
    private readonly heartbeatSeconds: number,
    private readonly onWelcome?: (connection: PeerConnection) => void,
    tls?: { key: Buffer; cert: Buffer },
  ) {
    this.server = tls ? createTlsServer(tls, (socket) => this.accept(socket)) : createServer((socket) => this.accept(socket));
  }

  static async start(
    options: { secrets?: string[]; heartbeatSeconds?: number; onWelcome?: (connection: PeerConnection) => void; tls?: { key: Buffer; cert: Buffer } } = {},
  ): Promise<TestPeer> {
    const peer = new TestPeer(options.secrets ?? ['test-secret'], options.heartbeatSeconds ?? 30, options.onWelcome, options.tls);
    peer.server.listen(0, '127.0.0.1');
    await once(peer.server, 'listening');
    return peer;
  }

  get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('test peer is not listening');
    return address.port;
  }

  /** The newest welcomed connection of `phyId` (waits for it). */
  waitForDevice(phyId: string, nth = 1): Promise<PeerConnection> {
    return waitFor(() => this.connections.filter((c) => c.phyId === phyId && c.welcomed)[nth - 1], { what: `connection #${nth} of ${phyId}` });
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const connection = new PeerConnection(socket);
    this.connections.push(connection);
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    let nonces: { client: Buffer; server: Buffer } | undefined;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        switch (frame.type) {
          case FrameType.HELLO2: {
            const hello = decodeHello2(frame.body);
            connection.phyId = hello.phyId;
            nonces = { client: hello.clientNonce, server: randomBytes(16) };
            socket.write(encodeChallenge(nonces.server));
            break;
          }
          case FrameType.PROOF: {
            const keys = this.secrets.map((secret) => deriveDeviceKey(secret, connection.phyId));
            const key = nonces && matchDeviceProof(keys, connection.phyId, nonces.client, nonces.server, decodeProof(frame.body).proof);
            if (!key || !nonces) {
              connection.sendError(WireErrorCode.AUTH_FAILED, 'PROOF matches no key');
              break;
            }
            const proof = this.forgeServerProof ? randomBytes(32) : serverProof(key, nonces.server, nonces.client);
            socket.write(encodeWelcome(this.heartbeatSeconds, proof));
            connection.welcomed = true;
            this.onWelcome?.(connection);
            break;
          }
          case FrameType.HELLO: {
            const { phyId, token } = decodeHello(frame.body);
            connection.phyId = phyId;
            if (!verifyDeviceToken(phyId, token, this.secrets)) {
              connection.sendError(WireErrorCode.AUTH_FAILED, 'token matches no secret');
              break;
            }
            socket.write(encodeWelcome(this.heartbeatSeconds));
            connection.welcomed = true;
            this.onWelcome?.(connection);
            break;
          }
          case FrameType.ACK:
            connection.acks.push({ ...decodeAck(frame.body), result: Buffer.from(decodeAck(frame.body).result) });
            break;
          case FrameType.PING:
            connection.pings.push(Buffer.from(frame.body));
            break;
          case FrameType.PONG:
            connection.pongs.push(Buffer.from(frame.body));
            break;
        }
      }
    });
    socket.on('end', () => (connection.endedByDevice = true));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      connection.closed = true;
      this.sockets.delete(socket);
    });
  }
}
