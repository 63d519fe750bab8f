import { timingSafeEqual } from 'node:crypto';
import { deriveDeviceKey } from './handshake';

/** A v1 token: the device key as 64 lowercase hex digits, nothing else. */
const TOKEN_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The token a device sends in a v1 HELLO: the lowercase hex of its derived key, the
 * HMAC-SHA256 of its phyId under `secret`.
 */
export function deviceToken(phyId: string, secret: string): string {
  return deriveDeviceKey(secret, phyId).toString('hex');
}

/**
 * The candidate key whose hex `token` is, or null. A token that is not 64 lowercase hex
 * digits matches nothing. Every candidate is compared in constant time.
 */
export function matchDeviceToken(token: string, candidates: readonly Buffer[]): Buffer | null {
  if (!TOKEN_PATTERN.test(token)) return null;
  const presented = Buffer.from(token, 'hex');
  let matched: Buffer | null = null;
  for (const key of candidates) {
    if (key.length === presented.length && timingSafeEqual(presented, key) && !matched) matched = key;
  }
  return matched;
}

/** True when `token` is the v1 token of `phyId` under any of `secrets` (several during a rotation). */
export function verifyDeviceToken(phyId: string, token: string, secrets: readonly string[]): boolean {
  return matchDeviceToken(token, secrets.map((secret) => deriveDeviceKey(secret, phyId))) !== null;
}
