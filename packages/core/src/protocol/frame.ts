/**
 * One decoded frame. `body` may share memory with the chunk it was read from (the decoder
 * avoids copying whole frames); copy it with `Buffer.from(body)` before keeping it for long.
 */
export interface Frame {
  type: number;
  body: Buffer;
}
