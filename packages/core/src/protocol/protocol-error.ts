import { wireErrorName, type WireErrorCodeValue } from './constants';
import type { Frame } from './frame';

/**
 * A violation of the wire protocol. `wireCode` is the WireErrorCode the server sends in its
 * ERROR frame before closing, so a handler can answer with `encodeError(e.wireCode, e.message)`.
 */
export class ProtocolError extends Error {
  readonly wireCode: WireErrorCodeValue;
  /**
   * Frames the decoder completed in the same push() before it met this error. A server may
   * still act on them (an ACK that arrived just before garbage) before it closes.
   */
  readonly decoded: Frame[];

  constructor(wireCode: WireErrorCodeValue, message: string, options?: { decoded?: Frame[]; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.wireCode = wireCode;
    this.decoded = options?.decoded ?? [];
  }

  /** The code's name, e.g. `BAD_FRAME`. */
  get wireCodeName(): string {
    return wireErrorName(this.wireCode);
  }
}

/** True when `value` is a ProtocolError, optionally with the given code. */
export function isProtocolError(value: unknown, wireCode?: number): value is ProtocolError {
  return value instanceof ProtocolError && (wireCode === undefined || value.wireCode === wireCode);
}
