import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import {
  COMMAND_ID_BYTES,
  FrameDecoder,
  FrameType,
  WireErrorCode,
  DEVICE_KEY_BYTES,
  NONCE_BYTES,
  decodeChallenge,
  decodeError,
  decodeGoaway,
  decodeWelcome,
  deriveDeviceKey,
  deviceProof,
  encodeAck,
  encodeHello,
  encodeHello2,
  encodePing,
  encodePong,
  encodeProof,
  readCommandId,
  verifyServerProof,
  wireErrorName,
  type Frame,
} from '@outbound/core';
import { Backoff, type ReconnectPolicy } from './backoff';
import { sampleLatency, validateBehaviour, type DeviceBehaviour } from './behaviour';
import { CommandResponder, type DeviceStats } from './command-responder';

export type { DeviceStats } from './command-responder';

/**
 * What every plain-TCP device of this process reads into (net's `onread`): a read is handled
 * before the next one starts, so one buffer serves them all, and a read costs no Buffer and no
 * stream 'data' event. Nothing may keep a view of it past the read: what a device keeps
 * (the server nonce, a payload handed to listeners or to `result`) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const NO_PAYLOAD = Buffer.alloc(0);

export interface SimulatedDeviceOptions extends DeviceBehaviour {
  host: string;
  port: number;
  phyId: string;
  /** Fleet secret; the device key is HMAC-SHA256(secret, phyId). */
  secret?: string;
  /** A key provisioned for this device (32 bytes; overrides `secret`). */
  key?: Buffer;
  /**
   * Speak the v1 static-token HELLO instead of HELLO2 (only servers with legacy auth enabled
   * accept it): this token as is, or `true` for the hex of the device key.
   */
  legacyToken?: string | true;
  /** Connect with TLS. */
  tls?: { ca?: Buffer; rejectUnauthorized?: boolean };
  /** Reconnect after a drop with jittered exponential backoff; default false (tests decide). */
  reconnect?: false | ReconnectPolicy;
  /** The ACK result of an applied command; default "ok". */
  result?: (id: string, payload: Buffer) => Buffer;
  /** Send a PING every heartbeat interval after WELCOME; default true (false lets a test provoke IDLE_TIMEOUT). */
  heartbeat?: boolean;
  /** How many command ids the device remembers for dedupe; default 100000. */
  historyLimit?: number;
  /** Counters shared with other devices (a fleet's sums), counted along with the device's own `stats`. */
  totals?: DeviceStats;
}

/** A command as the device saw it. */
export interface ReceivedCommand {
  id: string;
  payload: Buffer;
  duplicate: boolean;
}

/** connect() failed: the server sent ERROR (`wireCode` set) or closed before WELCOME. */
export class DeviceHandshakeError extends Error {
  constructor(
    message: string,
    readonly wireCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeviceHandshakeError';
  }
}

type Handshake = { resolve: () => void; reject: (error: Error) => void };

/**
 * One simulated device over a real TCP (or TLS) socket: the challenge-response handshake
 * (HELLO2, PROOF, and a check of the server's proof in WELCOME), PING every heartbeat interval, PONG to PINGs, ACKs with a configurable
 * latency and outcome mix, dedupe by command id (a duplicate is re-ACKed with the first
 * answer, not applied again), GOAWAY honoured, reconnect with jittered backoff.
 *
 * Events: 'welcome'(heartbeatSeconds), 'command'(ReceivedCommand), 'ack'({id, status,
 * latencyMs, duplicate}), 'goaway'(reconnectAfterMs), 'error-frame'({code, reason}),
 * 'close'(wasWelcomed: the connection that closed had got WELCOME).
 */
export class SimulatedDevice extends EventEmitter {
  readonly phyId: string;
  readonly stats: DeviceStats;
  /** The last ERROR frame the server sent, if any. */
  lastErrorFrame: { code: number; reason: string } | undefined;
  /** The interval the last WELCOME announced. */
  heartbeatSeconds: number | undefined;

  private readonly options: SimulatedDeviceOptions;
  private behaviour: DeviceBehaviour;
  private readonly responder: CommandResponder;
  private readonly backoff: Backoff | undefined;
  private socket: Socket | undefined;
  private welcomed = false;
  private stopped = true;
  private paused = false;
  private handshake: Handshake | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** performance.now() of the last frame this connection wrote (any frame is a heartbeat). */
  private lastSentAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly ackTimers = new Set<NodeJS.Timeout>();
  private goawayUntil: number | undefined;
  private pingSequence = 0;
  /** This connection's client nonce and, once CHALLENGE arrived, the server's. */
  private nonces: { client: Buffer; server?: Buffer } | undefined;
  private serverProofFailed = false;

  constructor(options: SimulatedDeviceOptions) {
    super();
    validateBehaviour(options);
    this.options = options;
    this.phyId = options.phyId;
    this.behaviour = { ackLatencyMs: options.ackLatencyMs, rejectRate: options.rejectRate, busyRate: options.busyRate, noAckRate: options.noAckRate };
    this.responder = new CommandResponder(options.historyLimit, options.result, options.totals);
    this.stats = this.responder.stats;
    this.backoff = options.reconnect ? new Backoff(options.reconnect) : undefined;
  }

  /** True between WELCOME and the connection's close. */
  get connected(): boolean {
    return this.welcomed && this.socket !== undefined && !this.socket.destroyed;
  }

  /** True while a reconnect is scheduled (set before 'close' is emitted). */
  get reconnecting(): boolean {
    return this.reconnectTimer !== undefined;
  }

  /** Applied command ids in apply order; a duplicate does not appear twice. */
  get appliedIds(): ReadonlyArray<string> {
    return this.responder.ledger.appliedIds;
  }

  appliedCount(id: string): number {
    return this.responder.ledger.appliedCount(id);
  }

  setBehaviour(behaviour: Partial<DeviceBehaviour>): void {
    validateBehaviour(behaviour);
    this.behaviour = { ...this.behaviour, ...behaviour };
  }

  /** Opens a connection; resolves on WELCOME, rejects on ERROR or a close before it. */
  connect(): Promise<void> {
    this.stopped = false;
    this.clearReconnect();
    if (this.socket) return Promise.reject(new Error(`${this.phyId}: already connected or connecting`));
    return this.open();
  }

  /** Closes the connection and stops reconnecting. */
  async close(): Promise<void> {
    this.stopped = true;
    this.clearReconnect();
    const socket = this.socket;
    if (!socket) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    await closed;
  }

  /** Drops the connection as a network failure would; reconnects if the policy says so. */
  dropConnection(): void {
    this.socket?.destroy();
  }

  /** Stops reading the socket (the kernel buffers fill, then the server's writes back up). */
  pauseReading(): void {
    this.paused = true;
    this.socket?.pause();
  }

  resumeReading(): void {
    this.paused = false;
    this.socket?.resume();
  }

  private open(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { host, port, tls } = this.options;
      const decoder = new FrameDecoder();
      const onRead = (bytes: number): boolean => {
        this.onData(socket, decoder, READ_BUFFER.subarray(0, bytes));
        return true; // keep reading (pauseReading() pauses the socket itself)
      };
      const socket: Socket = tls
        ? tlsConnect({ host, port, ca: tls.ca, rejectUnauthorized: tls.rejectUnauthorized ?? true })
        : netConnect({ host, port, onread: { buffer: READ_BUFFER, callback: onRead } });
      this.socket = socket;
      this.welcomed = false;
      this.goawayUntil = undefined;
      this.lastErrorFrame = undefined;
      this.handshake = { resolve, reject };
      let lastError: Error | undefined;
      socket.setNoDelay(true);
      if (this.paused) socket.pause();
      socket.once(tls ? 'secureConnect' : 'connect', () => this.send(socket, this.hello()));
      if (tls) socket.on('data', (chunk: Buffer) => this.onData(socket, decoder, chunk));
      socket.on('error', (error) => (lastError = error));
      socket.on('close', () => this.onClose(socket, lastError));
    });
  }

  /**
   * The device key: provisioned, derived from the fleet secret, or (neither given) all zeros,
   * the key a server in auth mode `none` proves itself with.
   */
  private key(): Buffer {
    if (this.options.key) return this.options.key;
    return this.options.secret === undefined ? Buffer.alloc(DEVICE_KEY_BYTES) : deriveDeviceKey(this.options.secret, this.phyId);
  }

  private hello(): Buffer {
    const legacy = this.options.legacyToken;
    if (legacy !== undefined) {
      this.nonces = undefined;
      return encodeHello(this.phyId, legacy === true ? this.key().toString('hex') : legacy);
    }
    this.nonces = { client: randomBytes(NONCE_BYTES) };
    return encodeHello2(this.phyId, this.nonces.client);
  }

  /** Writes one frame (and notes when, for the heartbeat). */
  private send(socket: Socket, frame: Buffer): void {
    this.lastSentAt = performance.now();
    socket.write(frame);
  }

  /**
   * The decoder's COMMAND fast path: each whole COMMAND at the start of a read is answered
   * straight from its bytes; stops once the connection changed.
   */
  private readonly takeCommand = (source: Buffer, idAt: number, end: number): boolean => {
    const socket = this.socket!;
    this.onCommand(socket, source, idAt, end);
    return socket === this.socket;
  };

  private onData(socket: Socket, decoder: FrameDecoder, chunk: Buffer): void {
    if (socket !== this.socket) return;
    if (this.welcomed) {
      const taken = decoder.takeCommands(chunk, this.takeCommand);
      if (taken === chunk.length || socket !== this.socket) return;
      if (taken > 0) chunk = chunk.subarray(taken);
    }
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch {
      socket.destroy(); // the server broke framing: nothing sensible left to read
      return;
    }
    for (const frame of frames) {
      if (socket !== this.socket) return;
      this.onFrame(socket, frame);
    }
  }

  private onFrame(socket: Socket, frame: Frame): void {
    switch (frame.type) {
      case FrameType.CHALLENGE: {
        if (!this.nonces || this.nonces.server) {
          socket.destroy();
          return;
        }
        // A copy: the frame is a view of the read buffer, and the nonce is needed again at WELCOME.
        this.nonces.server = Buffer.from(decodeChallenge(frame.body).serverNonce);
        this.send(socket, encodeProof(deviceProof(this.key(), this.phyId, this.nonces.client, this.nonces.server)));
        return;
      }
      case FrameType.WELCOME: {
        const welcome = decodeWelcome(frame.body);
        if (this.nonces && !this.serverProven(welcome.serverProof)) {
          this.lastErrorFrame = undefined;
          this.serverProofFailed = true;
          socket.destroy();
          return;
        }
        return this.onWelcome(socket, welcome.heartbeatSeconds);
      }
      case FrameType.PING:
        this.send(socket, encodePong(frame.body));
        return;
      case FrameType.COMMAND:
        if (this.welcomed) {
          if (frame.body.length < COMMAND_ID_BYTES) socket.destroy(); // the server broke the protocol
          else this.onCommand(socket, frame.body, 0, frame.body.length);
        }
        return;
      case FrameType.GOAWAY:
        return this.onGoaway(socket, decodeGoaway(frame.body).reconnectAfterMs);
      case FrameType.ERROR: {
        this.lastErrorFrame = decodeError(frame.body);
        this.emit('error-frame', this.lastErrorFrame);
        return;
      }
      default:
        return; // PONG and anything newer than v1: nothing to do
    }
  }

  /** A HELLO2 handshake's WELCOME must prove the server holds this device's key. */
  private serverProven(proof: Buffer | null): boolean {
    const nonces = this.nonces;
    return Boolean(proof && nonces?.server && verifyServerProof(this.key(), nonces.server, nonces.client, proof));
  }

  private onWelcome(socket: Socket, heartbeatSeconds: number): void {
    this.welcomed = true;
    this.heartbeatSeconds = heartbeatSeconds;
    this.responder.count('connects');
    this.backoff?.reset();
    if (this.options.heartbeat !== false) this.heartbeat(socket, heartbeatSeconds * 1000);
    const handshake = this.handshake;
    this.handshake = undefined;
    this.emit('welcome', heartbeatSeconds);
    handshake?.resolve();
  }

  /**
   * The heartbeat (docs/protocol.md): some frame at least once per interval. An ACK counts, so
   * a PING goes out only when the connection wrote nothing for a whole interval, and the timer
   * is set again for an interval after the last frame written.
   */
  private heartbeat(socket: Socket, intervalMs: number): void {
    const beat = (): void => {
      if (socket !== this.socket) return;
      const quietMs = performance.now() - this.lastSentAt;
      let nextMs = intervalMs - quietMs;
      if (nextMs <= 0) {
        const data = Buffer.allocUnsafe(4);
        data.writeUInt32BE(this.pingSequence++ >>> 0, 0);
        this.send(socket, encodePing(data));
        nextMs = intervalMs;
      }
      this.heartbeatTimer = setTimeout(beat, nextMs);
      this.heartbeatTimer.unref();
    };
    this.heartbeatTimer = setTimeout(beat, intervalMs);
    this.heartbeatTimer.unref();
  }

  /** COMMAND: its id is the 16 bytes of `source` at `idAt`, its payload `source[idAt + 16, end)` (a view of the read: copied before kept). */
  private onCommand(socket: Socket, source: Buffer, idAt: number, end: number): void {
    const timed = this.listenerCount('ack') > 0;
    const receivedAt = timed ? performance.now() : -1;
    const id = readCommandId(source, idAt);
    const listened = this.listenerCount('command') > 0;
    const payload = listened || this.options.result ? source.subarray(idAt + COMMAND_ID_BYTES, end) : NO_PAYLOAD;
    const { status, result, duplicate } = this.responder.answer(id, payload, this.behaviour);
    if (listened) this.emit('command', { id, payload: Buffer.from(payload), duplicate } satisfies ReceivedCommand);

    const delay = sampleLatency(this.behaviour.ackLatencyMs);
    if (delay <= 0) {
      this.sendAck(socket, id, status, result, duplicate, receivedAt);
      return;
    }
    const timer = setTimeout(() => {
      this.ackTimers.delete(timer);
      this.sendAck(socket, id, status, result, duplicate, receivedAt);
    }, delay);
    this.ackTimers.add(timer);
  }

  /** Sends the ACK (or withholds it at the no-ACK rate) on the connection the COMMAND came on, if it is still open; `receivedAt` -1: nobody listens for 'ack'. */
  private sendAck(socket: Socket, id: string, status: number, result: Buffer, duplicate: boolean, receivedAt: number): void {
    const noAckRate = this.behaviour.noAckRate ?? 0;
    if (noAckRate > 0 && Math.random() < noAckRate) {
      this.responder.countAck(status, false);
    } else if (socket === this.socket && !socket.destroyed) {
      this.send(socket, encodeAck(id, status, result));
      this.responder.countAck(status, true);
      if (receivedAt >= 0) this.emit('ack', { id, status, latencyMs: performance.now() - receivedAt, duplicate });
    }
    this.maybeFinishDraining(socket);
  }

  private onGoaway(socket: Socket, reconnectAfterMs: number): void {
    this.goawayUntil = Date.now() + reconnectAfterMs;
    this.emit('goaway', reconnectAfterMs);
    this.maybeFinishDraining(socket);
  }

  /** After GOAWAY: close our end once every command received so far is answered. */
  private maybeFinishDraining(socket: Socket): void {
    if (this.goawayUntil !== undefined && this.ackTimers.size === 0 && socket === this.socket) socket.end();
  }

  private onClose(socket: Socket, lastError: Error | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    clearTimeout(this.heartbeatTimer);
    for (const timer of this.ackTimers) clearTimeout(timer); // the connection is gone: those ACKs are lost
    this.ackTimers.clear();
    const errorFrame = this.lastErrorFrame;
    const proofFailed = this.serverProofFailed;
    this.serverProofFailed = false;
    if (this.handshake && !wasWelcomed) {
      const reason = errorFrame
        ? `server sent ERROR ${wireErrorName(errorFrame.code)}: ${errorFrame.reason}`
        : proofFailed
          ? 'the server\'s proof in WELCOME does not match the device key (not our server, or a different key): closed'
          : `connection closed before WELCOME${lastError ? ` (${lastError.message})` : ''}`;
      this.handshake.reject(new DeviceHandshakeError(`${this.phyId}: ${reason}`, errorFrame?.code, { cause: lastError }));
    }
    this.handshake = undefined;
    this.scheduleReconnect(errorFrame?.code);
    this.emit('close', wasWelcomed);
  }

  private scheduleReconnect(errorCode: number | undefined): void {
    // A superseded device stops: two devices sharing a phyId would otherwise take turns forever.
    if (this.stopped || !this.backoff || errorCode === WireErrorCode.SUPERSEDED) return;
    const delay = this.goawayUntil !== undefined ? Math.max(0, this.goawayUntil - Date.now()) * (1 + Math.random() * 0.1) : this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.stopped && !this.socket) this.open().catch(() => undefined); // its close schedules the next try
    }, delay);
  }

  private clearReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }
}
