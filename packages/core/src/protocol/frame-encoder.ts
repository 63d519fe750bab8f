import { FRAME_HEADER_BYTES, FRAME_MAGIC, PROTOCOL_VERSION } from './constants';

const EMPTY = Buffer.alloc(0);
const MAX_U32 = 0xffffffff;

/**
 * Builds a whole frame: the 8-byte header followed by `body`. Allocates once; the typed
 * encoders below write straight into the frame through `allocFrame` instead.
 */
export function encodeFrame(type: number, body: Buffer = EMPTY): Buffer {
  const frame = allocFrame(type, body.length);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** A frame with its header written and `bodyLength` bytes of body left for the caller to fill. */
export function allocFrame(type: number, bodyLength: number): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new RangeError(`frame type must be a byte, got ${type}`);
  if (bodyLength > MAX_U32) throw new RangeError(`frame body of ${bodyLength} bytes does not fit a u32 length`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  frame.writeUInt16BE(FRAME_MAGIC, 0);
  frame[2] = PROTOCOL_VERSION;
  frame[3] = type;
  frame.writeUInt32BE(bodyLength, 4);
  return frame;
}
