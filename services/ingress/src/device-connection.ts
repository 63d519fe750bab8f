import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  FrameDecoder, FrameType, MAX_HANDSHAKE_FRAME_BYTES, NONCE_BYTES, readCommandId, WireErrorCode, ProtocolError, decodeAck, decodeHello, decodeHello2,
  decodePing, decodePong, decodeProof, encodeChallenge, encodeCommand, encodeError, encodePong, encodeWelcome, isKnownFrameType, matchDeviceProof,
  matchDeviceToken, serverProof, wireErrorName, frameTypeName, type Frame,
} from '@outbound/core/protocol';
import type { AdmitVerdict, AuthFailure } from './device-auth';
import { PendingDeliveries, type DeliveryOutcome } from './pending-deliveries';

/**
 * Connection states. Frames allowed: HELLO2 (or, when enabled, HELLO) in HANDSHAKE; PROOF in
 * CHALLENGED; nothing while the server looks the device up (ADMITTING); PING, PONG, ACK once
 * WELCOMEd.
 */
export const ConnState = {
  /** Waiting for HELLO2 (or HELLO). */
  HANDSHAKE: 0,
  /**
   * WELCOME sent, route being recorded. The route may already be readable elsewhere (the store
   * wrote it, this replica has not heard the answer yet): deliveries wait for READY.
   */
  REGISTERING: 1,
  /** Registered with an epoch; deliveries go out. */
  READY: 2,
  /** ERROR or GOAWAY sent, or closing; frames are ignored. */
  CLOSING: 3,
  /** HELLO2 or HELLO received; rate limits and credentials being read. */
  ADMITTING: 4,
  /** CHALLENGE sent; waiting for PROOF. */
  CHALLENGED: 5,
} as const;
export type ConnStateValue = (typeof ConnState)[keyof typeof ConnState];

/** What a connection needs from the server that holds it. */
export interface ConnectionHost {
  readonly heartbeatSeconds: number;
  readonly writeHighWaterBytes: number;
  /** The v1 static-token HELLO is accepted (INGRESS_LEGACY_TOKEN_AUTH); otherwise AUTH_FAILED. */
  readonly legacyTokenAuth: boolean;
  /** Rate limits, then the device's candidate keys and revocation. */
  admit(conn: DeviceConnection, phyId: string): Promise<AdmitVerdict>;
  /** Counts an authentication failure by reason (the ERROR is sent by the connection). */
  onAuthFailed(conn: DeviceConnection, reason: AuthFailure): void;
  /** The device proved its key and WELCOME went out: supersede older connections and record the route. */
  onAuthenticated(conn: DeviceConnection): void;
  /** An ACK arrived: ms since its COMMAND was written, or null when no delivery waited for it (late or duplicate). */
  onAck(conn: DeviceConnection, latencyMs: number | null): void;
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
 * One device connection: decoder, protocol state and the deliveries waiting for its ACKs,
 * each changed only here (the server and the delivery tracker ask it, through methods).
 * Kept small on purpose (target: well under 10 KB per connection including the socket): no
 * timers of its own (the server's sweep checks handshake and idle deadlines), the pending map
 * made only when a delivery waits, the decoder holding at most one partial frame.
 */
export class DeviceConnection {
  phyId = '';
  readonly openedAt: number;
  lastSeenAt: number;
  /** When CLOSING began; the sweep destroys the socket if it has not closed after the linger. */
  closingSince = 0;
  closeReason = '';
  /** A TLS connection whose TLS handshake has not finished (no frame can be sent yet). */
  transportPending: boolean;
  private currentState: ConnStateValue = ConnState.HANDSHAKE;
  /** 0 until the registry answers. */
  private currentEpoch = 0;
  /** Highest epoch another replica superseded while this one was still registering. */
  private supersededUpTo = 0;
  private reachedReady = false;
  /** Deliveries waiting for the registry's answer; made only when one waits. */
  private registrationWaiters: Array<(ready: boolean) => void> | null = null;
  private readonly deliveries = new PendingDeliveries();
  private readonly decoder: FrameDecoder;
  /** Frames sent in this tick, not yet written (one, or several in order), and their bytes. */
  private outgoing: Buffer | Buffer[] | null = null;
  private outgoingBytes = 0;
  /** Handshake material, dropped at WELCOME. */
  private handshake: { clientNonce: Buffer; serverNonce: Buffer; verdict: AdmitVerdict & { kind: 'credentials' } } | null = null;

  constructor(
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    private readonly maxFrameBytes: number,
    now: number,
    /** `socket` is a server-side TLS socket whose handshake is still to come. */
    tls = false,
  ) {
    // Until WELCOME an unauthenticated peer may make us hold at most one small frame.
    this.decoder = new FrameDecoder({ maxFrameBytes: Math.min(maxFrameBytes, MAX_HANDSHAKE_FRAME_BYTES) });
    this.openedAt = now;
    this.lastSeenAt = now;
    this.transportPending = tls;
    if (tls) socket.once('secure', () => (this.transportPending = false));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows; the reason is recorded there
    socket.on('close', () => {
      this.currentState = ConnState.CLOSING;
      this.settleRegistration(false);
      this.deliveries.closeAll(this.closeReason || 'closed');
      host.onClosed(this);
    });
  }

  get state(): ConnStateValue {
    return this.currentState;
  }

  /** The connection's epoch in the route registry; 0 until the registry answered. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** Reached READY (counted in the connected-devices gauge). */
  get counted(): boolean {
    return this.reachedReady;
  }

  /** Deliveries waiting for this connection to finish registering. */
  get awaitingRegistration(): number {
    return this.registrationWaiters?.length ?? 0;
  }

  /**
   * Calls `settled` once the connection is READY (true) or closing (false), at once when it
   * already is either (a connection still in its handshake counts as not deliverable: false).
   * Answers a function that stops the wait.
   */
  onRegistered(settled: (ready: boolean) => void): () => void {
    if (this.currentState !== ConnState.REGISTERING) {
      settled(this.currentState === ConnState.READY);
      return () => undefined;
    }
    (this.registrationWaiters ??= []).push(settled);
    return () => {
      const at = this.registrationWaiters?.indexOf(settled) ?? -1;
      if (at >= 0) this.registrationWaiters!.splice(at, 1);
    };
  }

  private settleRegistration(ready: boolean): void {
    const waiters = this.registrationWaiters;
    if (!waiters) return;
    this.registrationWaiters = null;
    for (const resolve of waiters) resolve(ready);
  }

  /** Bytes read and held for a frame not yet complete (at most one header and one frame's limit). */
  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  get hasPendingDeliveries(): boolean {
    return this.deliveries.size > 0;
  }

  /** Callers waiting for the ACK of command `id` on this connection. */
  waitersFor(id: string): number {
    return this.deliveries.waitersFor(id);
  }

  /**
   * Writes COMMAND `id` (or joins the one already in flight); `done` runs once, with its ACK,
   * its timeout, or the connection's close, whichever comes first. Answers `joined`.
   */
  deliver(id: string, payload: Buffer, ackTimeoutMs: number, done: (outcome: DeliveryOutcome) => void): boolean {
    if (this.currentState === ConnState.CLOSING) {
      done({ kind: 'closed', reason: this.closeReason || 'closed' });
      return false;
    }
    const joined = this.deliveries.wait(id, ackTimeoutMs, done);
    // A write that trips the high-water mark destroys the socket; its close answers the waiter.
    if (!joined) this.send(encodeCommand(id, payload), FrameType.COMMAND);
    return joined;
  }

  /**
   * The registry recorded this connection at `epoch`. Answers true when it is now deliverable
   * (READY); false when it closed meanwhile or another replica superseded it meanwhile (then it
   * is closed with SUPERSEDED).
   */
  registered(epoch: number): boolean {
    this.currentEpoch = epoch;
    if (this.currentState === ConnState.CLOSING) return false;
    if (this.supersededUpTo >= epoch) {
      this.fail(WireErrorCode.SUPERSEDED, 'a newer connection of this device arrived on another replica');
      return false;
    }
    this.currentState = ConnState.READY;
    this.reachedReady = true;
    this.settleRegistration(true);
    return true;
  }

  /**
   * Another replica took this phyId at an epoch above `epoch`. Answers true when this
   * connection was closed for it (SUPERSEDED); a signal that arrives before the registry
   * answered is remembered and judged by registered().
   */
  supersededElsewhere(epoch: number): boolean {
    if (this.currentState === ConnState.CLOSING) return false;
    if (this.currentEpoch === 0) {
      this.supersededUpTo = Math.max(this.supersededUpTo, epoch);
      return false;
    }
    if (this.currentEpoch > epoch) return false;
    this.fail(WireErrorCode.SUPERSEDED, 'a newer connection of this device arrived on another replica');
    return true;
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** True until WELCOME: a failure now counts as a failed handshake. */
  get inHandshake(): boolean {
    return this.state === ConnState.HANDSHAKE || this.state === ConnState.ADMITTING || this.state === ConnState.CHALLENGED;
  }

  private onData(chunk: Buffer): void {
    if (this.state === ConnState.CLOSING) return;
    this.lastSeenAt = Date.now();
    if (this.currentState === ConnState.READY) {
      const taken = this.decoder.takeAcks(chunk, this.settleAck);
      if (taken === chunk.length || (this.currentState as ConnStateValue) === ConnState.CLOSING) return;
      if (taken > 0) chunk = chunk.subarray(taken);
    }
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
      if ((this.currentState as ConnStateValue) === ConnState.CLOSING) return;
      this.onFrame(frames[i]);
    }
  }

  /**
   * The decoder's ACK fast path (a READY device answering its COMMANDs): each whole ACK at the
   * start of a read is settled straight from its bytes; answers false once the connection left
   * READY, so nothing after that ACK is acted on here.
   */
  private readonly settleAck = (source: Buffer, idAt: number, status: number, result: Buffer): boolean => {
    this.host.onFrameIn(FrameType.ACK);
    this.host.onAck(this, this.deliveries.settle(readCommandId(source, idAt), status, result));
    return this.currentState === ConnState.READY;
  };

  private onFrame(frame: Frame): void {
    this.host.onFrameIn(frame.type);
    try {
      switch (this.state) {
        case ConnState.HANDSHAKE:
          if (frame.type === FrameType.HELLO2) this.onHello2(frame.body);
          else if (frame.type === FrameType.HELLO) this.onHello(frame.body);
          else this.fail(WireErrorCode.PROTOCOL, `expected HELLO2, got ${frameTypeName(frame.type)}`);
          return;
        case ConnState.ADMITTING:
          this.fail(WireErrorCode.PROTOCOL, `${frameTypeName(frame.type)} before the server's CHALLENGE or WELCOME`);
          return;
        case ConnState.CHALLENGED:
          if (frame.type === FrameType.PROOF) this.onProof(frame.body);
          else this.fail(WireErrorCode.PROTOCOL, `expected PROOF, got ${frameTypeName(frame.type)}`);
          return;
        default:
          break;
      }
      switch (frame.type) {
        case FrameType.ACK: {
          const ack = decodeAck(frame.body);
          this.host.onAck(this, this.deliveries.settle(ack.id, ack.status, ack.result));
          return;
        }
        case FrameType.PING:
          this.send(encodePong(decodePing(frame.body).data), FrameType.PONG);
          return;
        case FrameType.PONG:
          decodePong(frame.body);
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

  /** HELLO2: admit (rate limits, credentials), then CHALLENGE with a fresh server nonce. */
  private onHello2(body: Buffer): void {
    const hello = decodeHello2(body);
    this.phyId = hello.phyId;
    this.currentState = ConnState.ADMITTING;
    this.whenAdmitted((verdict) => {
      const serverNonce = randomBytes(NONCE_BYTES);
      this.handshake = { clientNonce: hello.clientNonce, serverNonce, verdict };
      this.currentState = ConnState.CHALLENGED;
      this.send(encodeChallenge(serverNonce), FrameType.CHALLENGE);
    });
  }

  /** PROOF: right under a candidate key and not revoked, or AUTH_FAILED. */
  private onProof(body: Buffer): void {
    const { proof } = decodeProof(body);
    const { clientNonce, serverNonce, verdict } = this.handshake!;
    this.handshake = null;
    const key = verdict.anyProof ? verdict.keys[0] : matchDeviceProof(verdict.keys, this.phyId, clientNonce, serverNonce, proof);
    if (!key) {
      this.authFailed('bad_proof', 'PROOF does not match the device key');
      return;
    }
    if (verdict.revoked) {
      this.authFailed('revoked', 'this device is revoked');
      return;
    }
    this.welcome(encodeWelcome(this.host.heartbeatSeconds, serverProof(key, serverNonce, clientNonce)));
  }

  /** v1 HELLO with a static token: only when the operator enabled it. */
  private onHello(body: Buffer): void {
    if (!this.host.legacyTokenAuth) {
      // Decode anyway, so the phyId is in the log line.
      this.phyId = decodeHello(body).phyId;
      this.authFailed('legacy_disabled', 'static-token HELLO is disabled on this server; use HELLO2');
      return;
    }
    const hello = decodeHello(body);
    this.phyId = hello.phyId;
    this.currentState = ConnState.ADMITTING;
    this.whenAdmitted((verdict) => {
      if (!verdict.anyProof && !matchDeviceToken(hello.token, verdict.keys)) this.authFailed('bad_token', 'token does not match the device key');
      else if (verdict.revoked) this.authFailed('revoked', 'this device is revoked');
      else this.welcome(encodeWelcome(this.host.heartbeatSeconds));
    });
  }

  /** Runs `next` with the host's verdict unless the connection ended meanwhile; RATE_LIMITED otherwise. */
  private whenAdmitted(next: (verdict: AdmitVerdict & { kind: 'credentials' }) => void): void {
    this.host.admit(this, this.phyId).then(
      (verdict) => {
        if (this.state !== ConnState.ADMITTING) return;
        if (verdict.kind === 'rate_limited') {
          this.fail(WireErrorCode.RATE_LIMITED, verdict.reason);
          return;
        }
        next(verdict);
      },
      () => {
        // The store is down: close without a verdict, the device retries with its backoff.
        if (this.state === ConnState.ADMITTING) this.destroy('credentials_unavailable');
      },
    );
  }

  private welcome(frame: Buffer): void {
    this.currentState = ConnState.REGISTERING;
    this.decoder.setMaxFrameBytes(this.maxFrameBytes);
    this.send(frame, FrameType.WELCOME);
    this.host.onAuthenticated(this);
  }

  /** AUTH_FAILED and close, counted by reason. */
  authFailed(reason: AuthFailure, message: string): void {
    if (this.state === ConnState.CLOSING) return;
    this.handshake = null;
    this.host.onAuthFailed(this, reason);
    this.fail(WireErrorCode.AUTH_FAILED, message);
  }

  /**
   * Writes one frame. Frames of one tick leave together, as one write at the tick's end (one
   * syscall for a burst of COMMANDs); they are held here rather than by cork(), whose buffering
   * and uncork cost more than the write itself for the usual one frame per connection and tick.
   * A device whose unread bytes pass the high-water mark is disconnected: its buffer would
   * otherwise grow without end. Answers false when the frame was not written.
   */
  send(frame: Buffer, type: number): boolean {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return false;
    const held = this.outgoing;
    if (held === null) {
      this.outgoing = frame;
      // One nextTick writes for every connection written to in this tick (a batch of deliveries
      // writes to hundreds), not one callback per connection.
      if (writtenThisTick.push(this) === 1) process.nextTick(writeAll);
    } else if (Array.isArray(held)) {
      held.push(frame);
    } else {
      this.outgoing = [held, frame];
    }
    this.outgoingBytes += frame.length;
    this.host.onFrameOut(type);
    if (socket.writableLength + this.outgoingBytes > this.host.writeHighWaterBytes) {
      this.destroy('write_high_water');
      return false;
    }
    return true;
  }

  /** Sends ERROR and closes (docs/protocol.md: the server closes after every ERROR). */
  fail(code: number, reason: string): void {
    if (this.state === ConnState.CLOSING) return;
    const wasHandshake = this.inHandshake;
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
    this.currentState = ConnState.CLOSING;
    this.settleRegistration(false);
    this.closeReason ||= reason;
    this.closingSince = Date.now();
    this.flushWrites();
    this.socket.end();
  }

  /** Writes the frames this tick sent. */
  flushWrites(): void {
    const held = this.outgoing;
    if (held === null) return;
    this.outgoing = null;
    const bytes = this.outgoingBytes;
    this.outgoingBytes = 0;
    if (this.socket.destroyed) return;
    this.socket.write(Array.isArray(held) ? Buffer.concat(held, bytes) : held);
  }

  /** Closes at once, without a frame. */
  destroy(reason: string): void {
    this.closeReason ||= reason;
    this.currentState = ConnState.CLOSING;
    this.settleRegistration(false);
    this.socket.destroy();
  }
}

/** Connections sent to in this tick, written together at its end. */
let writtenThisTick: DeviceConnection[] = [];

function writeAll(): void {
  const conns = writtenThisTick;
  writtenThisTick = [];
  for (const conn of conns) conn.flushWrites();
}
