import { createHmac, timingSafeEqual } from 'node:crypto';

const TOKEN_HEX_LENGTH = 64;

/** The token a device sends in HELLO: lowercase hex HMAC-SHA256 of its phyId under `secret`. */
export function deviceToken(phyId: string, secret: string): string {
  return createHmac('sha256', secret).update(phyId, 'utf8').digest('hex');
}

/**
 * True when `token` is the device token of `phyId` under any of `secrets` (several are
 * configured during a rotation). Compares in constant time and checks every secret, so
 * timing reveals neither how much of the token matched nor which secret did.
 */
export function verifyDeviceToken(phyId: string, token: string, secrets: string[]): boolean {
  if (token.length !== TOKEN_HEX_LENGTH) return false;
  const presented = Buffer.from(token, 'latin1');
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(deviceToken(phyId, secret), 'latin1');
    if (timingSafeEqual(presented, expected)) matched = true;
  }
  return matched;
}
