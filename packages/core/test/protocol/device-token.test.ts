import { createHmac, randomBytes } from 'node:crypto';
import {
  deriveDeviceKey, deviceProof, deviceToken, matchDeviceProof, matchDeviceToken, serverProof, verifyDeviceToken, verifyServerProof,
} from '@outbound/core';

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

describe('challenge-response proofs', () => {
  const clientNonce = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
  const serverNonce = Buffer.from('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff', 'hex');

  it('are the HMACs the spec writes out, computed independently here', () => {
    const key = createHmac('sha256', 's3cret').update('DEV001').digest();
    expect(deriveDeviceKey('s3cret', 'DEV001')).toEqual(key);
    expect(deviceToken('DEV001', 's3cret')).toBe(key.toString('hex'));
    const proof = createHmac('sha256', key).update(Buffer.concat([Buffer.from('OB2'), Buffer.from([6]), Buffer.from('DEV001'), clientNonce, serverNonce])).digest();
    expect(deviceProof(key, 'DEV001', clientNonce, serverNonce)).toEqual(proof);
    const back = createHmac('sha256', key).update(Buffer.concat([Buffer.from('OB2S'), serverNonce, clientNonce])).digest();
    expect(serverProof(key, serverNonce, clientNonce)).toEqual(back);
  });

  it('match under any candidate key (rotation) and only with the nonces they were made for', () => {
    const oldKey = deriveDeviceKey('old', 'DEV001');
    const newKey = deriveDeviceKey('new', 'DEV001');
    const proof = deviceProof(oldKey, 'DEV001', clientNonce, serverNonce);
    expect(matchDeviceProof([newKey, oldKey], 'DEV001', clientNonce, serverNonce, proof)).toEqual(oldKey);
    expect(matchDeviceProof([newKey], 'DEV001', clientNonce, serverNonce, proof)).toBeNull();
    expect(matchDeviceProof([oldKey], 'DEV001', clientNonce, randomBytes(16), proof)).toBeNull();
    expect(matchDeviceProof([oldKey], 'DEV002', clientNonce, serverNonce, proof)).toBeNull();
    expect(matchDeviceProof([oldKey], 'DEV001', clientNonce, serverNonce, proof.subarray(0, 31))).toBeNull();
    expect(verifyServerProof(oldKey, serverNonce, clientNonce, serverProof(oldKey, serverNonce, clientNonce))).toBe(true);
    // The device's own proof is not a server proof (different label and nonce order).
    expect(verifyServerProof(oldKey, serverNonce, clientNonce, proof)).toBe(false);
  });

  it('a v1 token matches the hex of a candidate key only when it is 64 lowercase hex digits', () => {
    const key = randomBytes(32);
    expect(matchDeviceToken(key.toString('hex'), [key])).toEqual(key);
    expect(matchDeviceToken(key.toString('hex').toUpperCase(), [key])).toBeNull();
    expect(matchDeviceToken(`${key.toString('hex').slice(0, 63)}z`, [key])).toBeNull();
  });
});
