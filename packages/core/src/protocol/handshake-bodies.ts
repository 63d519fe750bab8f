import { PHY_ID_PATTERN } from '../command';
import { FRAME_HEADER_BYTES, FrameType, WireErrorCode } from './constants';
import { allocFrame } from './frame-encoder';
import { NONCE_BYTES, PROOF_BYTES } from './handshake';
import { ProtocolError } from './protocol-error';

/*
 * Bodies of the challenge-response handshake frames (HELLO2, CHALLENGE, PROOF). WELCOME's
 * server proof is in frame-bodies.ts with the rest of WELCOME. Encoders throw RangeError on
 * arguments a caller got wrong; decoders throw ProtocolError(BAD_FRAME) on what a peer sent.
 */

const H = FRAME_HEADER_BYTES;

function fixedLength(name: string, value: Buffer, length: number): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
}

/** HELLO2: u8 idLen, phyId (1–64 bytes of [A-Za-z0-9._:-]), 16-byte client nonce. */
export function encodeHello2(phyId: string, clientNonce: Buffer): Buffer {
  if (!PHY_ID_PATTERN.test(phyId)) throw new RangeError(`phyId must be 1-64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(phyId)}`);
  fixedLength('client nonce', clientNonce, NONCE_BYTES);
  const frame = allocFrame(FrameType.HELLO2, 1 + phyId.length + NONCE_BYTES);
  frame[H] = phyId.length;
  frame.write(phyId, H + 1, 'latin1');
  clientNonce.copy(frame, H + 1 + phyId.length);
  return frame;
}

/** Parses a HELLO2 body; BAD_FRAME when the length is not idLen + 17 or the phyId breaks its charset. */
export function decodeHello2(body: Buffer): { phyId: string; clientNonce: Buffer } {
  if (body.length < 1) throw new ProtocolError(WireErrorCode.BAD_FRAME, 'HELLO2 body is empty');
  const idLength = body[0];
  if (idLength < 1 || idLength > 64) throw new ProtocolError(WireErrorCode.BAD_FRAME, `HELLO2 phyId length ${idLength} is outside 1..64`);
  if (body.length !== 1 + idLength + NONCE_BYTES) {
    throw new ProtocolError(WireErrorCode.BAD_FRAME, `HELLO2 body is ${body.length} bytes, expected ${1 + idLength + NONCE_BYTES} for a ${idLength}-byte phyId and a ${NONCE_BYTES}-byte nonce`);
  }
  const phyId = body.toString('latin1', 1, 1 + idLength);
  if (!PHY_ID_PATTERN.test(phyId)) throw new ProtocolError(WireErrorCode.BAD_FRAME, 'HELLO2 phyId has characters outside [A-Za-z0-9._:-]');
  return { phyId, clientNonce: Buffer.from(body.subarray(1 + idLength)) };
}

/** CHALLENGE: the 16-byte server nonce. */
export function encodeChallenge(serverNonce: Buffer): Buffer {
  fixedLength('server nonce', serverNonce, NONCE_BYTES);
  const frame = allocFrame(FrameType.CHALLENGE, NONCE_BYTES);
  serverNonce.copy(frame, H);
  return frame;
}

export function decodeChallenge(body: Buffer): { serverNonce: Buffer } {
  if (body.length !== NONCE_BYTES) throw new ProtocolError(WireErrorCode.BAD_FRAME, `CHALLENGE body must be ${NONCE_BYTES} bytes, got ${body.length}`);
  return { serverNonce: Buffer.from(body) };
}

/** PROOF: the device's 32-byte HMAC (see handshake.ts). */
export function encodeProof(proof: Buffer): Buffer {
  fixedLength('proof', proof, PROOF_BYTES);
  const frame = allocFrame(FrameType.PROOF, PROOF_BYTES);
  proof.copy(frame, H);
  return frame;
}

export function decodeProof(body: Buffer): { proof: Buffer } {
  if (body.length !== PROOF_BYTES) throw new ProtocolError(WireErrorCode.BAD_FRAME, `PROOF body must be ${PROOF_BYTES} bytes, got ${body.length}`);
  return { proof: Buffer.from(body) };
}
