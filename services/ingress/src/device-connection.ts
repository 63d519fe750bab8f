import type { Socket } from 'node:net';
import {
  FrameDecoder, FrameType, WireErrorCode, ProtocolError, decodeAck, decodeHello, decodePing,
  encodeError, encodePong, encodeWelcome, isKnownFrameType, wireErrorName, frameTypeName, type Frame,
} from '@outbound/core/protocol';
import type { PendingDelivery } from './delivery-tracker';

/** Connection states. Frames allowed: HELLO in HANDSHAKE; PING, PONG, ACK once WELCOMEd. */
export const ConnState = {
  /** Waiting for HELLO. */
  HANDSHAKE: 0,
  /** WELCOME sent, route being recorded; not yet deliverable. */
  REGISTERING: 1,
  /** Registered with an epoch; deliveries go out. */
  READY: 2,
  /** ERROR or GOAWAY sent, or closing; frames are ignored. */
  CLOSING: 3,
} as const;
export type ConnStateValue = (typeof ConnState)[keyof typeof ConnState];

/** What a connection needs from the server that holds it. */
export interface ConnectionHost {
  readonly heartbeatSeconds: number;
  readonly writeHighWaterBytes: number;
  authenticate(phyId: string, token: string): boolean;
  /** HELLO passed auth and WELCOME went out: supersede older connections and record the route. */
  onAuthenticated(conn: DeviceConnection): void;
  onAck(conn: DeviceConnection, id: string, status: number, result: Buffer): void;
  onFrameIn(type: number): void;
  onFrameOut(type: number): void;
  /** The connection ended in a handshake failure (for the handshake counter). */
  onHandshakeFailed(reason: string): void;
  /** An ERROR frame was sent. */
  onErrorSent(code: number, conn: DeviceConnection, reason: string): void;
  /** The socket closed; remove the connection everywhere. */
  onClosed(conn: DeviceConnection): void;
}

/**
 * One device connection: decoder, protocol state and the deliveries waiting for its ACKs.
 * Kept small on purpose (target: well under 10 KB per connection including the socket): no
 * timers of its own (the server's sweep checks handshake and idle deadlines), the pending map
 * made only when a delivery waits, the decoder holding at most one partial frame.
 */
export class DeviceConnection {
  state: ConnStateValue = ConnState.HANDSHAKE;
  phyId = '';
  /** 0 until the registry answers. */
  epoch = 0;
  /** Highest epoch another replica superseded while this one was still registering. */
  supersededUpTo = 0;
  readonly openedAt: number;
  lastSeenAt: number;
  /** When CLOSING began; the sweep destroys the socket if it has not closed after the linger. */
  closingSince = 0;
  closeReason = '';
  /** Counted in the connected-devices gauge (reached READY). */
  counted = false;
  pending: Map<string, PendingDelivery> | null = null;
  private readonly decoder: FrameDecoder;
  private corked = false;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    maxFrameBytes: number,
    now: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes });
    this.openedAt = now;
    this.lastSeenAt = now;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows; the reason is recorded there
    socket.on('close', () => host.onClosed(this));
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  private onData(chunk: Buffer): void {
    if (this.state === ConnState.CLOSING) return;
    this.lastSeenAt = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // Act on what arrived before the garbage (an ACK is still an ACK), then close.
      for (const frame of error.decoded) this.onFrame(frame);
      this.fail(error.wireCode, error.message);
      return;
    }
    for (let i = 0; i < frames.length; i++) {
      if ((this.state as ConnStateValue) === ConnState.CLOSING) return;
      this.onFrame(frames[i]);
    }
  }

  private onFrame(frame: Frame): void {
    this.host.onFrameIn(frame.type);
    try {
      if (this.state === ConnState.HANDSHAKE) {
        if (frame.type !== FrameType.HELLO) {
          this.fail(WireErrorCode.PROTOCOL, `expected HELLO, got ${frameTypeName(frame.type)}`);
          return;
        }
        this.onHello(frame.body);
        return;
      }
      switch (frame.type) {
        case FrameType.ACK: {
          const ack = decodeAck(frame.body);
          this.host.onAck(this, ack.id, ack.status, ack.result);
          return;
        }
        case FrameType.PING:
          this.send(encodePong(decodePing(frame.body).data), FrameType.PONG);
          return;
        case FrameType.PONG:
          return;
        default:
          this.fail(
            WireErrorCode.PROTOCOL,
            isKnownFrameType(frame.type) ? `${frameTypeName(frame.type)} is not allowed from a device after WELCOME` : `unknown frame type ${frameTypeName(frame.type)}`,
          );
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.fail(error.wireCode, error.message);
    }
  }

  private onHello(body: Buffer): void {
    const hello = decodeHello(body);
    if (!this.host.authenticate(hello.phyId, hello.token)) {
      this.phyId = hello.phyId;
      this.fail(WireErrorCode.AUTH_FAILED, 'token does not match any configured secret');
      return;
    }
    this.phyId = hello.phyId;
    this.state = ConnState.REGISTERING;
    this.send(encodeWelcome(this.host.heartbeatSeconds), FrameType.WELCOME);
    this.host.onAuthenticated(this);
  }

  /**
   * Writes one frame. Writes in one tick are corked together (one syscall for a burst of
   * COMMANDs). A device whose unread bytes pass the high-water mark is disconnected: its
   * buffer would otherwise grow without end. Answers false when the frame was not written.
   */
  send(frame: Buffer, type: number): boolean {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return false;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    socket.write(frame);
    this.host.onFrameOut(type);
    if (socket.writableLength > this.host.writeHighWaterBytes) {
      this.destroy('write_high_water');
      return false;
    }
    return true;
  }

  /** Sends ERROR and closes (DESIGN.md: the server closes after every ERROR). */
  fail(code: number, reason: string): void {
    if (this.state === ConnState.CLOSING) return;
    const wasHandshake = this.state === ConnState.HANDSHAKE;
    this.send(encodeError(code, reason), FrameType.ERROR);
    this.host.onErrorSent(code, this, reason);
    if (wasHandshake) this.host.onHandshakeFailed(wireErrorName(code).toLowerCase());
    this.beginClose(wireErrorName(code).toLowerCase());
  }

  /** Sends a final frame (GOAWAY) and ends the connection gracefully. */
  endWith(frame: Buffer, type: number, reason: string): void {
    if (this.state === ConnState.CLOSING) return;
    this.send(frame, type);
    this.beginClose(reason);
  }

  private beginClose(reason: string): void {
    this.state = ConnState.CLOSING;
    this.closeReason ||= reason;
    this.closingSince = Date.now();
    this.flushWrites();
    this.socket.end();
  }

  /** Uncorks what this tick wrote. */
  flushWrites(): void {
    if (!this.corked) return;
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  /** Closes at once, without a frame. */
  destroy(reason: string): void {
    this.closeReason ||= reason;
    this.state = ConnState.CLOSING;
    this.socket.destroy();
  }
}

function uncork(conn: DeviceConnection): void {
  conn.flushWrites();
}
