/**
 * Numbers of the device wire protocol v1 (docs/protocol.md). Device makers implement against these values, so they never change
 * within a protocol version.
 */

/** The only protocol version this codec speaks; byte 2 of every header. */
export const PROTOCOL_VERSION = 1;

/** Every frame starts with this 8-byte header: magic (2), version (1), type (1), body length (4). */
export const FRAME_HEADER_BYTES = 8;

/** Default limit on a frame's body length; a larger declared length is TOO_LARGE. */
export const DEFAULT_MAX_FRAME_BYTES = 65536;

/**
 * Until WELCOME no frame may declare a longer body (TOO_LARGE, before a byte of it is kept):
 * the largest handshake frame is a v1 HELLO of 2 + 64 + 255 bytes, so an unauthenticated
 * peer can make the server hold at most this much.
 */
export const MAX_HANDSHAKE_FRAME_BYTES = 512;

/** Magic bytes "OB" as one big-endian u16. */
export const FRAME_MAGIC = 0x4f42;

/** Frame types (header byte 3). */
export const FrameType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  PING: 0x03,
  PONG: 0x04,
  HELLO2: 0x05,
  CHALLENGE: 0x06,
  PROOF: 0x07,
  COMMAND: 0x10,
  ACK: 0x11,
  GOAWAY: 0x30,
  ERROR: 0x7f,
} as const;

export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Codes carried by an ERROR frame; the server closes the connection after sending one. */
export const WireErrorCode = {
  /** Bad magic or version, or a malformed body. */
  BAD_FRAME: 0x01,
  /** Wrong PROOF (or v1 token), a revoked device, no PROOF in time, or v1 HELLO while it is disabled. */
  AUTH_FAILED: 0x02,
  /** The header declared a body longer than the server's maxFrameBytes. */
  TOO_LARGE: 0x03,
  /** No HELLO or HELLO2 within the handshake timeout. */
  HANDSHAKE_TIMEOUT: 0x04,
  /** The same phyId connected again (here or on another replica); the newer connection wins. */
  SUPERSEDED: 0x05,
  /** Nothing received for 2.5 heartbeat intervals. */
  IDLE_TIMEOUT: 0x06,
  /** The server's connection limit is reached. */
  BUSY: 0x07,
  /** A frame not allowed in this state, or an unknown type. */
  PROTOCOL: 0x08,
  /** Too many handshakes from this address or for this phyId, or a supersede storm; the reason says when to retry. */
  RATE_LIMITED: 0x09,
} as const;

export type WireErrorCodeValue = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** ACK status byte. */
export const AckStatus = {
  /** Applied (or already applied: a duplicate id is re-ACKed with OK). */
  OK: 0x00,
  /** Permanent refusal: do not retry. */
  REJECTED: 0x01,
  /** The device cannot take it now: retry later. */
  BUSY: 0x02,
} as const;

export type AckStatusValue = (typeof AckStatus)[keyof typeof AckStatus];

/** Largest PING (and so PONG) body. */
export const MAX_PING_BYTES = 64;

/** Command ids travel as the 16 raw bytes of a UUID. */
export const COMMAND_ID_BYTES = 16;

const FRAME_TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));
const WIRE_ERROR_NAMES = new Map<number, string>(Object.entries(WireErrorCode).map(([name, value]) => [value, name]));
const ACK_STATUS_NAMES = new Map<number, string>(Object.entries(AckStatus).map(([name, value]) => [value, name]));

/** True for the frame types this protocol defines. The decoder passes unknown types through; the server answers PROTOCOL. */
export function isKnownFrameType(type: number): type is FrameTypeValue {
  return FRAME_TYPE_NAMES.has(type);
}

/** `HELLO`, `ACK`, ... or `0xNN` for an unknown type (for logs and metric labels). */
export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** `BAD_FRAME`, `AUTH_FAILED`, ... or `0xNN` for a code this version does not define. */
export function wireErrorName(code: number): string {
  return WIRE_ERROR_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** True for the three ACK statuses of protocol v1. */
export function isAckStatus(status: number): status is AckStatusValue {
  return ACK_STATUS_NAMES.has(status);
}

/** `OK`, `REJECTED`, `BUSY` or `0xNN`. */
export function ackStatusName(status: number): string {
  return ACK_STATUS_NAMES.get(status) ?? `0x${status.toString(16).padStart(2, '0')}`;
}
