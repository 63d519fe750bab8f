import { OutboundError } from '../errors';
import { DEVICE_KEY_BYTES } from '../protocol/handshake';

/** Refuses a key of the wrong length before any store sees it (both backends call this). */
export function assertDeviceKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== DEVICE_KEY_BYTES) {
    throw new OutboundError('VALIDATION_FAILED', `a device key is ${DEVICE_KEY_BYTES} bytes, got ${Buffer.isBuffer(key) ? key.length : typeof key}`, {
      details: [{ path: 'key', message: `must be ${DEVICE_KEY_BYTES} bytes` }],
    });
  }
}
