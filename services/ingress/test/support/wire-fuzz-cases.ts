import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';
import { AckStatus, encodeFrame, FrameType, isKnownFrameType, MAX_HANDSHAKE_FRAME_BYTES, WireErrorCode } from '@outbound/core';

/**
 * Seeded generator of wire-fuzz cases: each case is one connection that reaches some point of
 * the handshake, sends a few valid frames, then (usually) one rule-breaking frame, and names
 * the ERROR code the protocol requires for it (null: nothing wrong, the connection must stay).
 * The same seed always gives the same cases, so a failure is replayed with its seed.
 */
export interface FuzzCase {
  index: number;
  kind: string;
  phyId: string;
  /** How far the handshake goes before `stream` is sent. */
  stage: 'connected' | 'challenged' | 'welcomed';
  /** The bytes sent after that point, in the chunks they are written in. */
  chunks: Buffer[];
  /** Frames `stream` holds (valid ones and the bad one), for the frame count. */
  frames: number;
  expect: number | null;
}

export interface FuzzLimits {
  /** The ingress's INGRESS_MAX_FRAME_BYTES. */
  maxFrameBytes: number;
}

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
const DEVICE_TYPES = [FrameType.PING, FrameType.PONG, FrameType.ACK];
const NOT_FROM_A_DEVICE_AFTER_WELCOME = [FrameType.HELLO, FrameType.HELLO2, FrameType.PROOF, FrameType.WELCOME, FrameType.CHALLENGE, FrameType.COMMAND, FrameType.GOAWAY, FrameType.ERROR];

export class WireFuzz {
  private readonly rng: RandomGenerator;
  private index = 0;

  constructor(seed: number, private readonly limits: FuzzLimits) {
    this.rng = xoroshiro128plus(seed);
  }

  private int(min: number, max: number): number {
    return unsafeUniformIntDistribution(min, max, this.rng);
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  private bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }

  private unknownType(): number {
    for (;;) {
      const type = this.int(0, 255);
      if (!isKnownFrameType(type)) return type;
    }
  }

  /** A header declaring `length` bytes, with `sent` of them following. */
  private declared(type: number, length: number, sent: number): Buffer {
    const header = encodeFrame(type, Buffer.alloc(0));
    header.writeUInt32BE(length, 4);
    return Buffer.concat([header, this.bytes(sent)]);
  }

  /** 0–6 frames a welcomed device may send: PINGs, PONGs, ACKs of ids the server never sent. */
  private validTraffic(): Buffer[] {
    return Array.from({ length: this.int(0, 6) }, () => {
      const type = this.pick(DEVICE_TYPES);
      if (type !== FrameType.ACK) return encodeFrame(type, this.bytes(this.int(0, 64)));
      return encodeFrame(FrameType.ACK, Buffer.concat([this.bytes(16), Buffer.of(this.pick(Object.values(AckStatus))), this.bytes(this.int(0, 200))]));
    });
  }

  /** Splits a byte stream at random points (the server must reassemble it). */
  private split(stream: Buffer): Buffer[] {
    const chunks: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      const size = this.int(0, 3) === 0 ? this.int(1, 16) : stream.length - at;
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
    return chunks;
  }

  private phyId(): string {
    return `FZ${this.index}-${Array.from({ length: this.int(1, 20) }, () => this.pick([...ID_CHARS])).join('')}`.slice(0, 64);
  }

  next(): FuzzCase {
    const index = this.index++;
    const [kind, stage, bad, expect] = this.badCase();
    const valid = stage === 'welcomed' ? this.validTraffic() : [];
    const stream = Buffer.concat([...valid, ...(bad ? [bad] : [])]);
    return { index, kind, phyId: this.phyId(), stage, chunks: this.split(stream), frames: valid.length + (bad ? 1 : 0), expect };
  }

  private badCase(): [kind: string, stage: FuzzCase['stage'], bad: Buffer | null, expect: number | null] {
    const pre = MAX_HANDSHAKE_FRAME_BYTES;
    const max = this.limits.maxFrameBytes;
    switch (this.int(0, 17)) {
      case 0: {
        // Garbage whose first byte is not the magic's.
        const garbage = this.bytes(this.int(1, 64));
        if (garbage[0] === 0x4f) garbage[0] = 0x00;
        return ['garbage first', 'connected', garbage, WireErrorCode.BAD_FRAME];
      }
      case 1: {
        const frame = encodeFrame(FrameType.HELLO2, this.bytes(this.int(0, 40)));
        frame[2] = this.pick([0, 2, 3, 0x7f, 0xff]);
        return ['bad version', this.pick(['connected', 'welcomed'] as const), frame, WireErrorCode.BAD_FRAME];
      }
      case 2:
        return ['too large before WELCOME', this.pick(['connected', 'challenged'] as const), this.declared(this.pick([FrameType.HELLO2, FrameType.PROOF, this.unknownType()]), this.int(pre + 1, 0xffffffff), this.int(0, 64)), WireErrorCode.TOO_LARGE];
      case 3:
        return ['too large after WELCOME', 'welcomed', this.declared(this.pick(DEVICE_TYPES), this.int(max + 1, 0xffffffff), this.int(0, 64)), WireErrorCode.TOO_LARGE];
      case 4:
        return ['malformed HELLO2', 'connected', encodeFrame(FrameType.HELLO2, this.malformedHello2()), WireErrorCode.BAD_FRAME];
      case 5: {
        const type = this.pick([FrameType.PING, FrameType.PONG, FrameType.ACK, FrameType.PROOF, FrameType.WELCOME, FrameType.COMMAND, FrameType.CHALLENGE, FrameType.GOAWAY, this.unknownType()]);
        return ['not HELLO2 first', 'connected', encodeFrame(type, this.bytes(this.int(0, pre))), WireErrorCode.PROTOCOL];
      }
      case 6: {
        const id = Buffer.from('DEV-V1');
        const token = Buffer.from(this.bytes(32).toString('hex'));
        return ['legacy HELLO while disabled', 'connected', encodeFrame(FrameType.HELLO, Buffer.concat([Buffer.of(id.length), id, Buffer.of(token.length), token])), WireErrorCode.AUTH_FAILED];
      }
      case 7:
        return ['wrong PROOF', 'challenged', encodeFrame(FrameType.PROOF, this.bytes(32)), WireErrorCode.AUTH_FAILED];
      case 8: {
        let length = this.int(0, 64);
        if (length === 32) length = 33;
        return ['PROOF of the wrong length', 'challenged', encodeFrame(FrameType.PROOF, this.bytes(length)), WireErrorCode.BAD_FRAME];
      }
      case 9: {
        const type = this.pick([FrameType.PING, FrameType.PONG, FrameType.ACK, FrameType.HELLO2, FrameType.HELLO, this.unknownType()]);
        return ['other frame instead of PROOF', 'challenged', encodeFrame(type, this.bytes(this.int(0, 100))), WireErrorCode.PROTOCOL];
      }
      case 10:
        return ['PING or PONG over 64 bytes', 'welcomed', encodeFrame(this.pick([FrameType.PING, FrameType.PONG]), this.bytes(this.int(65, Math.min(max, 2_000)))), WireErrorCode.BAD_FRAME];
      case 11:
        return ['unknown type after WELCOME', 'welcomed', encodeFrame(this.unknownType(), this.bytes(this.int(0, 200))), WireErrorCode.PROTOCOL];
      case 12:
        return ['server-only or handshake type after WELCOME', 'welcomed', encodeFrame(this.pick(NOT_FROM_A_DEVICE_AFTER_WELCOME), this.bytes(this.int(0, 200))), WireErrorCode.PROTOCOL];
      case 13:
        return ['short ACK', 'welcomed', encodeFrame(FrameType.ACK, this.bytes(this.int(0, 16))), WireErrorCode.BAD_FRAME];
      case 14:
        return ['ACK with an unknown status', 'welcomed', encodeFrame(FrameType.ACK, Buffer.concat([this.bytes(16), Buffer.of(this.int(3, 255)), this.bytes(this.int(0, 20))])), WireErrorCode.BAD_FRAME];
      case 15: {
        const junk = this.bytes(this.int(1, 32));
        if (junk[0] === 0x4f) junk[0] = 0x00;
        return ['bad magic after WELCOME', 'welcomed', junk, WireErrorCode.BAD_FRAME];
      }
      default:
        return ['valid session', 'welcomed', null, null];
    }
  }

  private malformedHello2(): Buffer {
    switch (this.int(0, 3)) {
      case 0:
        return Buffer.concat([Buffer.of(0), this.bytes(16)]);
      case 1: {
        const idLength = this.int(65, 255);
        return Buffer.concat([Buffer.of(idLength), Buffer.alloc(idLength, 0x41), this.bytes(16)]);
      }
      case 2: {
        // The lengths disagree: a nonce of anything but 16 bytes.
        let nonce = this.int(0, 40);
        if (nonce === 16) nonce = 17;
        return Buffer.concat([Buffer.of(4), Buffer.from('DEV1'), this.bytes(nonce)]);
      }
      default:
        return Buffer.concat([Buffer.of(4), Buffer.from('DE V'), this.bytes(16)]);
    }
  }
}
