import { COMMAND_ID_BYTES, DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FRAME_MAGIC, FrameType, PROTOCOL_VERSION, WireErrorCode, isAckStatus } from './constants';
import type { Frame } from './frame';
import { ProtocolError } from './protocol-error';

const H = FRAME_HEADER_BYTES;
const MAGIC_0 = FRAME_MAGIC >> 8;
const MAGIC_1 = FRAME_MAGIC & 0xff;
const EMPTY = Buffer.alloc(0);
/** An ACK's body up to its result: command id and status. */
const ACK_HEAD_BYTES = COMMAND_ID_BYTES + 1;

/**
 * Called by takeAcks() for each whole, well-formed ACK: the command id is the 16 bytes of
 * `source` at `idAt`; `result` is a view of `source` (or one shared empty buffer). Answer false
 * to stop taking after this one.
 */
export type AckSink = (source: Buffer, idAt: number, status: number, result: Buffer) => boolean;

/**
 * Called by takeCommands() for each whole COMMAND: the command id is the 16 bytes of `source`
 * at `idAt`, the payload `source[idAt + 16, end)`. Answer false to stop taking after this one.
 */
export type CommandSink = (source: Buffer, idAt: number, end: number) => boolean;

/**
 * Streaming decoder for one connection: push() each chunk read from the socket, get back the
 * frames it completed. Frames may be split at any byte and several may share a chunk.
 *
 * What must stay true:
 * - The header is checked before a single body byte is kept: bad magic or version is
 *   BAD_FRAME (checked byte by byte, so garbage fails on its first wrong byte), a declared
 *   length above maxFrameBytes is TOO_LARGE. So the decoder never holds more than one
 *   header plus one frame's limit.
 * - A partial body is held as copies of exactly the bytes received, not as the declared
 *   length allocated up front, so a peer that declares 64 KiB and trickles costs only what
 *   it sent (and never retains a whole socket read buffer).
 * - Frames wholly inside a chunk are returned as zero-copy views of it (the hot path: tens
 *   of thousands of small ACKs per second arrive coalesced). Copy a body before keeping it.
 * - After an error the decoder is spent: every later push() throws the same error. The frames
 *   completed before the error in that push are on `error.decoded`.
 * Frame types are not checked by push(): the server answers an unknown type with PROTOCOL.
 *
 * takeAcks() and takeCommands() are the hot path's shortcut: the whole frames of one type at
 * the start of a read are handed straight from the chunk's bytes to a callback, with no frame
 * object, body view or decoded body each. They take only what push() would return unchanged
 * (same header rules, decoded the same way) and stop at anything else, which push() then reads
 * as usual, answering whatever it would have answered.
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  private readonly header = Buffer.alloc(H);
  private headerFilled = 0;
  /** Type and declared length of the frame whose body is being collected, or -1 between frames. */
  private bodyType = -1;
  private bodyLength = 0;
  private bodyPieces: Buffer[] = [];
  private bodyFilled = 0;
  private failure: ProtocolError | undefined;

  constructor(options: { maxFrameBytes?: number } = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`maxFrameBytes must be an integer in 0..4294967295, got ${max}`);
    this.maxFrameBytes = max;
  }

  /**
   * Changes the limit for headers not yet checked (the server raises it from the handshake
   * limit to maxFrameBytes once the device is authenticated).
   */
  setMaxFrameBytes(max: number): void {
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) throw new RangeError(`maxFrameBytes must be an integer in 0..4294967295, got ${max}`);
    this.maxFrameBytes = max;
  }

  /** Bytes held for a frame not yet complete: a partial header (< 8) or a partial body (< maxFrameBytes). */
  get bufferedBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  /**
   * Hands the whole, well-formed ACK frames at the start of `chunk` to `each` and answers how
   * many bytes they took; push() the rest. Stops at the first frame that is anything else:
   * another type, a frame the chunk cuts off, a header push() would refuse, a body decodeAck()
   * would refuse (shorter than id and status, or an unknown status). Takes nothing while part
   * of a frame is held or after an error, so frames always come out in stream order.
   */
  takeAcks(chunk: Buffer, each: AckSink): number {
    if (this.failure || this.headerFilled !== 0 || this.bodyType >= 0) return 0;
    const end = chunk.length;
    let at = 0;
    while (end - at >= H + ACK_HEAD_BYTES) {
      const length = this.wholeBodyAt(chunk, at, FrameType.ACK);
      if (length < ACK_HEAD_BYTES) break;
      const idAt = at + H;
      const status = chunk[idAt + COMMAND_ID_BYTES];
      if (!isAckStatus(status)) break;
      at = idAt + length;
      if (!each(chunk, idAt, status, length === ACK_HEAD_BYTES ? EMPTY : chunk.subarray(idAt + ACK_HEAD_BYTES, at))) break;
    }
    return at;
  }

  /**
   * takeAcks() for COMMAND frames (a device's hot path): hands each whole COMMAND at the start
   * of `chunk` that holds at least a command id to `each`, and answers the bytes taken.
   */
  takeCommands(chunk: Buffer, each: CommandSink): number {
    if (this.failure || this.headerFilled !== 0 || this.bodyType >= 0) return 0;
    const end = chunk.length;
    let at = 0;
    while (end - at >= H + COMMAND_ID_BYTES) {
      const length = this.wholeBodyAt(chunk, at, FrameType.COMMAND);
      if (length < COMMAND_ID_BYTES) break;
      const idAt = at + H;
      at = idAt + length;
      if (!each(chunk, idAt, at)) break;
    }
    return at;
  }

  /**
   * The body length of the frame at `at` when it is of `type`, passes the header rules and
   * lies wholly inside `chunk`; -1 otherwise (push() then reads it, and answers any error).
   */
  private wholeBodyAt(chunk: Buffer, at: number, type: number): number {
    if (chunk[at] !== MAGIC_0 || chunk[at + 1] !== MAGIC_1 || chunk[at + 2] !== PROTOCOL_VERSION || chunk[at + 3] !== type) return -1;
    const length = chunk.readUInt32BE(at + 4);
    return length > this.maxFrameBytes || chunk.length - at - H < length ? -1 : length;
  }

  /** Decodes what `chunk` completes; throws ProtocolError (BAD_FRAME, TOO_LARGE) on a broken stream. */
  push(chunk: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    const frames: Frame[] = [];
    try {
      this.consume(chunk, frames);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failure = new ProtocolError(error.wireCode, error.message, { decoded: frames });
      this.bodyPieces = [];
      throw this.failure;
    }
    return frames;
  }

  private consume(chunk: Buffer, frames: Frame[]): void {
    const end = chunk.length;
    let offset = 0;
    while (offset < end) {
      if (this.bodyType >= 0) {
        offset = this.collectBody(chunk, offset, frames);
        continue;
      }
      if (this.headerFilled === 0 && end - offset >= H) {
        // Fast path: the whole header is in this chunk.
        const length = this.checkHeader(chunk, offset);
        const type = chunk[offset + 3];
        offset += H;
        if (end - offset >= length) {
          frames.push({ type, body: length === 0 ? EMPTY : chunk.subarray(offset, offset + length) });
          offset += length;
        } else {
          this.startBody(type, length);
        }
        continue;
      }
      // Slow path: a header split across chunks, validated as its bytes arrive.
      const take = Math.min(H - this.headerFilled, end - offset);
      chunk.copy(this.header, this.headerFilled, offset, offset + take);
      const from = this.headerFilled;
      this.headerFilled += take;
      offset += take;
      this.checkHeaderPrefix(from, this.headerFilled);
      if (this.headerFilled < H) return;
      this.headerFilled = 0;
      const length = this.checkHeader(this.header, 0);
      const type = this.header[3];
      if (length === 0) frames.push({ type, body: EMPTY });
      else this.startBody(type, length);
    }
  }

  private startBody(type: number, length: number): void {
    this.bodyType = type;
    this.bodyLength = length;
    this.bodyFilled = 0;
  }

  private collectBody(chunk: Buffer, offset: number, frames: Frame[]): number {
    const take = Math.min(this.bodyLength - this.bodyFilled, chunk.length - offset);
    const piece = chunk.subarray(offset, offset + take);
    this.bodyFilled += take;
    if (this.bodyFilled < this.bodyLength) {
      this.bodyPieces.push(Buffer.from(piece));
      return offset + take;
    }
    // A header split across reads followed by a whole body needs no copy either.
    const body = this.bodyPieces.length === 0 ? piece : Buffer.concat([...this.bodyPieces, piece], this.bodyLength);
    frames.push({ type: this.bodyType, body });
    this.bodyPieces = [];
    this.bodyType = -1;
    this.bodyFilled = 0;
    return offset + take;
  }

  /** Checks magic and version of a complete header at `at`; returns the body length. */
  private checkHeader(source: Buffer, at: number): number {
    if (source[at] !== MAGIC_0 || source[at + 1] !== MAGIC_1) {
      throw new ProtocolError(WireErrorCode.BAD_FRAME, `bad magic 0x${source.toString('hex', at, at + 2)}, expected 0x4f42 ("OB")`);
    }
    if (source[at + 2] !== PROTOCOL_VERSION) {
      throw new ProtocolError(WireErrorCode.BAD_FRAME, `unsupported protocol version ${source[at + 2]}, expected ${PROTOCOL_VERSION}`);
    }
    const length = source.readUInt32BE(at + 4);
    if (length > this.maxFrameBytes) {
      throw new ProtocolError(WireErrorCode.TOO_LARGE, `frame body of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    return length;
  }

  /** Fails fast on the magic and version bytes of a header that is still arriving. */
  private checkHeaderPrefix(from: number, to: number): void {
    const h = this.header;
    for (let i = from; i < to && i < 3; i++) {
      if (i < 2 && h[i] !== (i === 0 ? MAGIC_0 : MAGIC_1)) {
        throw new ProtocolError(WireErrorCode.BAD_FRAME, `bad magic byte 0x${h[i].toString(16).padStart(2, '0')} at header offset ${i}`);
      }
      if (i === 2 && h[2] !== PROTOCOL_VERSION) {
        throw new ProtocolError(WireErrorCode.BAD_FRAME, `unsupported protocol version ${h[2]}, expected ${PROTOCOL_VERSION}`);
      }
    }
  }
}
