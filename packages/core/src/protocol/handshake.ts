import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * The challenge-response handshake's cryptography (docs/protocol.md "Handshake"):
 *   deviceKey   = provisioned 32 bytes, else HMAC-SHA256(fleet secret, phyId) (raw bytes)
 *   PROOF       = HMAC-SHA256(deviceKey, "OB2"  ‖ u8 idLen ‖ phyId ‖ clientNonce ‖ serverNonce)
 *   serverProof = HMAC-SHA256(deviceKey, "OB2S" ‖ serverNonce ‖ clientNonce)
 * Both nonces are in both proofs, so a PROOF recorded on one connection is worthless on the
 * next (the server draws a fresh nonce), and a server proof cannot be replayed to a device.
 */

/** Bytes of each side's nonce. */
export const NONCE_BYTES = 16;
/** Bytes of a PROOF and of the server proof in WELCOME (one HMAC-SHA256). */
export const PROOF_BYTES = 32;
/** Bytes of a device key (one HMAC-SHA256 output). */
export const DEVICE_KEY_BYTES = 32;

const DEVICE_LABEL = Buffer.from('OB2', 'latin1');
const SERVER_LABEL = Buffer.from('OB2S', 'latin1');

/** The key of a device without a provisioned one: HMAC-SHA256(fleet secret, phyId), raw. */
export function deriveDeviceKey(secret: string, phyId: string): Buffer {
  return createHmac('sha256', secret).update(phyId, 'utf8').digest();
}

/** What the device sends in PROOF. */
export function deviceProof(key: Buffer, phyId: string, clientNonce: Buffer, serverNonce: Buffer): Buffer {
  const id = Buffer.from(phyId, 'latin1');
  return createHmac('sha256', key).update(DEVICE_LABEL).update(Buffer.of(id.length)).update(id).update(clientNonce).update(serverNonce).digest();
}

/** What the server sends after the heartbeat in WELCOME, for the device to check. */
export function serverProof(key: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  return createHmac('sha256', key).update(SERVER_LABEL).update(serverNonce).update(clientNonce).digest();
}

/**
 * The candidate key under which `proof` is right, or null. Every candidate is checked in
 * constant time, so timing reveals neither how much matched nor which key did (several keys
 * are candidates while fleet secrets rotate).
 */
export function matchDeviceProof(candidates: readonly Buffer[], phyId: string, clientNonce: Buffer, serverNonce: Buffer, proof: Buffer): Buffer | null {
  if (proof.length !== PROOF_BYTES) return null;
  let matched: Buffer | null = null;
  for (const key of candidates) {
    if (timingSafeEqual(deviceProof(key, phyId, clientNonce, serverNonce), proof) && !matched) matched = key;
  }
  return matched;
}

/** True when the WELCOME's server proof shows the server holds `key` (the device's check). */
export function verifyServerProof(key: Buffer, serverNonce: Buffer, clientNonce: Buffer, proof: Buffer): boolean {
  return proof.length === PROOF_BYTES && timingSafeEqual(serverProof(key, serverNonce, clientNonce), proof);
}
