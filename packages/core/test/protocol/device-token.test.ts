import { createHmac } from 'node:crypto';
import { deviceToken, verifyDeviceToken } from '@outbound/core';

describe('device tokens', () => {
  it('is the lowercase hex HMAC-SHA256 of the phyId under the secret', () => {
    // Independent computation, as a device maker would write it from the spec.
    const expected = createHmac('sha256', 's3cret').update('DEV001').digest('hex');
    expect(deviceToken('DEV001', 's3cret')).toBe(expected);
    expect(deviceToken('DEV001', 's3cret')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a token made with any configured secret (rotation)', () => {
    const secrets = ['new-secret', 'old-secret'];
    expect(verifyDeviceToken('DEV001', deviceToken('DEV001', 'old-secret'), secrets)).toBe(true);
    expect(verifyDeviceToken('DEV001', deviceToken('DEV001', 'new-secret'), secrets)).toBe(true);
  });

  it('rejects a retired secret, another device’s token, a changed or short token and an empty secret list', () => {
    const secrets = ['new-secret'];
    expect(verifyDeviceToken('DEV001', deviceToken('DEV001', 'old-secret'), secrets)).toBe(false);
    expect(verifyDeviceToken('DEV001', deviceToken('DEV002', 'new-secret'), secrets)).toBe(false);
    const token = deviceToken('DEV001', 'new-secret');
    const flipped = (token[0] === '0' ? '1' : '0') + token.slice(1);
    expect(verifyDeviceToken('DEV001', flipped, secrets)).toBe(false);
    expect(verifyDeviceToken('DEV001', token.toUpperCase(), secrets)).toBe(false);
    expect(verifyDeviceToken('DEV001', token.slice(0, 63), secrets)).toBe(false);
    expect(verifyDeviceToken('DEV001', token, [])).toBe(false);
  });
});
