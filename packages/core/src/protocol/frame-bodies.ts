import { PHY_ID_PATTERN } from '../command/limits';
import { COMMAND_ID_BYTES, FRAME_HEADER_BYTES, FrameType, MAX_PING_BYTES, WireErrorCode, isAckStatus } from './constants';
import { readCommandId, writeCommandId } from './command-id';
import { allocFrame } from './frame-encoder';
import { PROOF_BYTES } from './handshake';
import { ProtocolError } from './protocol-error';

/*
 * One encoder (whole frame out) and one decoder (body in) per frame type. Encoders throw
 * RangeError on arguments the protocol cannot carry (a caller bug); decoders throw
 * ProtocolError(BAD_FRAME) on a body a peer sent wrong (the server answers with ERROR).
 */

const H = FRAME_HEADER_BYTES;
/** The result of every ACK that carries none (most do): one view shared instead of one made per ACK. */
const NO_RESULT = Buffer.alloc(0);
const MAX_TOKEN_BYTES = 255;
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

function badFrame(what: string): ProtocolError {
  return new ProtocolError(WireErrorCode.BAD_FRAME, what);
}

function checkUint(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/** HELLO: u8 idLen, phyId (1–64 bytes of [A-Za-z0-9._:-]), u8 tokenLen, token. */
export function encodeHello(phyId: string, token: string): Buffer {
  if (!PHY_ID_PATTERN.test(phyId)) throw new RangeError(`phyId must be 1-64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(phyId)}`);
  const tokenLength = Buffer.byteLength(token, 'utf8');
  if (tokenLength > MAX_TOKEN_BYTES) throw new RangeError(`token must be at most ${MAX_TOKEN_BYTES} bytes, got ${tokenLength}`);
  const frame = allocFrame(FrameType.HELLO, 2 + phyId.length + tokenLength);
  frame[H] = phyId.length;
  frame.write(phyId, H + 1, 'latin1');
  frame[H + 1 + phyId.length] = tokenLength;
  frame.write(token, H + 2 + phyId.length, 'utf8');
  return frame;
}

/** Parses a HELLO body; BAD_FRAME when lengths disagree or the phyId breaks its charset. */
export function decodeHello(body: Buffer): { phyId: string; token: string } {
  if (body.length < 2) throw badFrame(`HELLO body of ${body.length} bytes is shorter than its two length bytes`);
  const idLength = body[0];
  if (idLength < 1 || idLength > 64) throw badFrame(`HELLO phyId length ${idLength} is outside 1..64`);
  if (body.length < 2 + idLength) throw badFrame(`HELLO body of ${body.length} bytes is too short for a ${idLength}-byte phyId`);
  const phyId = body.toString('latin1', 1, 1 + idLength);
  if (!PHY_ID_PATTERN.test(phyId)) throw badFrame('HELLO phyId has characters outside [A-Za-z0-9._:-]');
  const tokenLength = body[1 + idLength];
  if (body.length !== 2 + idLength + tokenLength) {
    throw badFrame(`HELLO body is ${body.length} bytes but its lengths add up to ${2 + idLength + tokenLength}`);
  }
  const token = body.toString('latin1', 2 + idLength);
  if (!TOKEN_PATTERN.test(token)) throw badFrame('HELLO token must be 64 lowercase hex digits');
  return { phyId, token };
}

/**
 * WELCOME: u16 heartbeat seconds (1..65535), then, answering a HELLO2, the 32-byte server
 * proof (answering a v1 HELLO, nothing more).
 */
export function encodeWelcome(heartbeatSeconds: number, serverProof?: Buffer): Buffer {
  checkUint('heartbeatSeconds', heartbeatSeconds, 1, 0xffff);
  if (serverProof && serverProof.length !== PROOF_BYTES) throw new RangeError(`server proof must be ${PROOF_BYTES} bytes, got ${serverProof.length}`);
  const frame = allocFrame(FrameType.WELCOME, 2 + (serverProof?.length ?? 0));
  frame.writeUInt16BE(heartbeatSeconds, H);
  serverProof?.copy(frame, H + 2);
  return frame;
}

/** `serverProof` is null for a v1 WELCOME (2 bytes). */
export function decodeWelcome(body: Buffer): { heartbeatSeconds: number; serverProof: Buffer | null } {
  if (body.length !== 2 && body.length !== 2 + PROOF_BYTES) throw badFrame(`WELCOME body must be 2 or ${2 + PROOF_BYTES} bytes, got ${body.length}`);
  const heartbeatSeconds = body.readUInt16BE(0);
  if (heartbeatSeconds === 0) throw badFrame('WELCOME heartbeat must be at least 1 second');
  return { heartbeatSeconds, serverProof: body.length === 2 ? null : body.subarray(2) };
}

function encodeOpaque(type: number, name: string, data: Buffer): Buffer {
  if (data.length > MAX_PING_BYTES) throw new RangeError(`${name} data must be at most ${MAX_PING_BYTES} bytes, got ${data.length}`);
  const frame = allocFrame(type, data.length);
  data.copy(frame, H);
  return frame;
}

/** PING: 0–64 opaque bytes, echoed by the PONG. */
export function encodePing(data: Buffer = Buffer.alloc(0)): Buffer {
  return encodeOpaque(FrameType.PING, 'PING', data);
}

/** PONG: the bytes of the PING it answers. */
export function encodePong(data: Buffer): Buffer {
  return encodeOpaque(FrameType.PONG, 'PONG', data);
}

/** Returns the PING's opaque bytes; BAD_FRAME above 64 bytes. */
export function decodePing(body: Buffer): { data: Buffer } {
  if (body.length > MAX_PING_BYTES) throw badFrame(`PING body must be at most ${MAX_PING_BYTES} bytes, got ${body.length}`);
  return { data: body };
}

/** Returns the PONG's opaque bytes; BAD_FRAME above 64 bytes. */
export function decodePong(body: Buffer): { data: Buffer } {
  if (body.length > MAX_PING_BYTES) throw badFrame(`PONG body must be at most ${MAX_PING_BYTES} bytes, got ${body.length}`);
  return { data: body };
}

/** COMMAND: 16-byte command id (the UUID's bytes), then the payload. */
export function encodeCommand(id: string, payload: Buffer): Buffer {
  const frame = allocFrame(FrameType.COMMAND, COMMAND_ID_BYTES + payload.length);
  writeCommandId(id, frame, H);
  payload.copy(frame, H + COMMAND_ID_BYTES);
  return frame;
}

/** `id` comes back as lowercase UUID text; `payload` shares memory with `body`. */
export function decodeCommand(body: Buffer): { id: string; payload: Buffer } {
  if (body.length < COMMAND_ID_BYTES) throw badFrame(`COMMAND body must hold a 16-byte id, got ${body.length} bytes`);
  return { id: readCommandId(body, 0), payload: body.subarray(COMMAND_ID_BYTES) };
}

/** ACK: 16-byte command id, u8 status (AckStatus), then result bytes. */
export function encodeAck(id: string, status: number, result: Buffer = NO_RESULT): Buffer {
  if (!isAckStatus(status)) throw new RangeError(`ACK status must be 0 (OK), 1 (REJECTED) or 2 (BUSY), got ${status}`);
  const frame = allocFrame(FrameType.ACK, COMMAND_ID_BYTES + 1 + result.length);
  writeCommandId(id, frame, H);
  frame[H + COMMAND_ID_BYTES] = status;
  result.copy(frame, H + COMMAND_ID_BYTES + 1);
  return frame;
}

/** BAD_FRAME when shorter than id + status or the status is not one of AckStatus. */
export function decodeAck(body: Buffer): { id: string; status: number; result: Buffer } {
  if (body.length < COMMAND_ID_BYTES + 1) throw badFrame(`ACK body must hold a 16-byte id and a status byte, got ${body.length} bytes`);
  const status = body[COMMAND_ID_BYTES];
  if (!isAckStatus(status)) throw badFrame(`ACK status ${status} is not 0 (OK), 1 (REJECTED) or 2 (BUSY)`);
  const result = body.length === COMMAND_ID_BYTES + 1 ? NO_RESULT : body.subarray(COMMAND_ID_BYTES + 1);
  return { id: readCommandId(body, 0), status, result };
}

/** GOAWAY: u32 milliseconds the device should wait before reconnecting. */
export function encodeGoaway(reconnectAfterMs: number): Buffer {
  checkUint('reconnectAfterMs', reconnectAfterMs, 0, 0xffffffff);
  const frame = allocFrame(FrameType.GOAWAY, 4);
  frame.writeUInt32BE(reconnectAfterMs, H);
  return frame;
}

export function decodeGoaway(body: Buffer): { reconnectAfterMs: number } {
  if (body.length !== 4) throw badFrame(`GOAWAY body must be 4 bytes, got ${body.length}`);
  return { reconnectAfterMs: body.readUInt32BE(0) };
}

/** ERROR: u8 code (WireErrorCode), UTF-8 reason. */
export function encodeError(code: number, reason: string): Buffer {
  checkUint('ERROR code', code, 0, 0xff);
  const reasonLength = Buffer.byteLength(reason, 'utf8');
  const frame = allocFrame(FrameType.ERROR, 1 + reasonLength);
  frame[H] = code;
  frame.write(reason, H + 1, 'utf8');
  return frame;
}

export function decodeError(body: Buffer): { code: number; reason: string } {
  if (body.length < 1) throw badFrame('ERROR body must hold a code byte');
  return { code: body[0], reason: body.toString('utf8', 1) };
}
