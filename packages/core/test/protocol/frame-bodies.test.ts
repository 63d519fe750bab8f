import {
  AckStatus,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  ProtocolError,
  WireErrorCode,
  decodeAck,
  decodeCommand,
  decodeChallenge,
  decodeError,
  decodeGoaway,
  decodeHello,
  decodeHello2,
  decodeProof,
  decodePing,
  decodePong,
  decodeWelcome,
  encodeAck,
  encodeChallenge,
  encodeCommand,
  encodeError,
  encodeGoaway,
  encodeHello,
  encodeHello2,
  encodePing,
  encodeProof,
  encodePong,
  encodeWelcome,
  isKnownFrameType,
} from '@outbound/core';

const ID = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

/** Decodes one whole frame through the streaming decoder, as a peer would receive it. */
function roundTrip(frame: Buffer): { type: number; body: Buffer } {
  const frames = new FrameDecoder().push(frame);
  expect(frames).toHaveLength(1);
  return frames[0];
}

function badFrame(decode: () => unknown): string {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).wireCode).toBe(WireErrorCode.BAD_FRAME);
    return (error as ProtocolError).message;
  }
  throw new Error('expected BAD_FRAME');
}

describe('frame bodies round trip', () => {
  it('HELLO', () => {
    const frame = roundTrip(encodeHello('meter:42.a_b-C', 'f'.repeat(64)));
    expect(frame.type).toBe(FrameType.HELLO);
    expect(decodeHello(frame.body)).toEqual({ phyId: 'meter:42.a_b-C', token: 'f'.repeat(64) });
    expect(decodeHello(roundTrip(encodeHello('X'.repeat(64), '0'.repeat(64))).body)).toEqual({ phyId: 'X'.repeat(64), token: '0'.repeat(64) });
  });

  it('HELLO2, CHALLENGE and PROOF', () => {
    const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const hello = roundTrip(encodeHello2('meter:42', nonce));
    expect(hello.type).toBe(FrameType.HELLO2);
    expect(hello.body).toEqual(Buffer.concat([Buffer.from([8]), Buffer.from('meter:42'), nonce]));
    expect(decodeHello2(hello.body)).toEqual({ phyId: 'meter:42', clientNonce: nonce });
    expect(decodeChallenge(roundTrip(encodeChallenge(nonce)).body)).toEqual({ serverNonce: nonce });
    const proof = Buffer.alloc(32, 7);
    expect(decodeProof(roundTrip(encodeProof(proof)).body)).toEqual({ proof });
    expect(() => encodeHello2('meter', Buffer.alloc(15))).toThrow(RangeError);
    expect(() => encodeChallenge(Buffer.alloc(17))).toThrow(RangeError);
    expect(() => encodeProof(Buffer.alloc(31))).toThrow(RangeError);
  });

  it('WELCOME, GOAWAY and ERROR', () => {
    expect(decodeWelcome(roundTrip(encodeWelcome(65535)).body)).toEqual({ heartbeatSeconds: 65535, serverProof: null });
    const proof = Buffer.alloc(32, 0xee);
    expect(decodeWelcome(roundTrip(encodeWelcome(30, proof)).body)).toEqual({ heartbeatSeconds: 30, serverProof: proof });
    expect(() => encodeWelcome(30, Buffer.alloc(31))).toThrow(RangeError);
    expect(decodeGoaway(roundTrip(encodeGoaway(0xffffffff)).body)).toEqual({ reconnectAfterMs: 0xffffffff });
    const error = roundTrip(encodeError(WireErrorCode.SUPERSEDED, 'connected elsewhere – newer wins'));
    expect(error.type).toBe(FrameType.ERROR);
    expect(decodeError(error.body)).toEqual({ code: WireErrorCode.SUPERSEDED, reason: 'connected elsewhere – newer wins' });
  });

  it('PING and PONG carry 0 to 64 opaque bytes', () => {
    expect(roundTrip(encodePing()).body.length).toBe(0);
    const data = Buffer.alloc(64, 0xab);
    expect(decodePing(roundTrip(encodePing(data)).body).data.equals(data)).toBe(true);
    const pong = roundTrip(encodePong(data));
    expect(pong.type).toBe(FrameType.PONG);
    expect(decodePong(pong.body).data.equals(data)).toBe(true);
    expect(() => encodePing(Buffer.alloc(65))).toThrow(RangeError);
  });

  it('COMMAND and ACK carry the command id as UUID bytes', () => {
    const frame = encodeCommand(ID.toUpperCase(), Buffer.from([0, 1, 2, 255]));
    expect(frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + 16).toString('hex')).toBe(ID.replace(/-/g, ''));
    const command = decodeCommand(roundTrip(frame).body);
    expect(command.id).toBe(ID);
    expect([...command.payload]).toEqual([0, 1, 2, 255]);
    expect(decodeCommand(roundTrip(encodeCommand(ID, Buffer.alloc(0))).body).payload.length).toBe(0);

    for (const status of [AckStatus.OK, AckStatus.REJECTED, AckStatus.BUSY]) {
      const ack = decodeAck(roundTrip(encodeAck(ID, status, Buffer.from('r'))).body);
      expect(ack).toEqual({ id: ID, status, result: Buffer.from('r') });
    }
    expect(decodeAck(roundTrip(encodeAck(ID, AckStatus.OK)).body).result.length).toBe(0);
  });

  it('refuses to encode what the protocol cannot carry', () => {
    expect(() => encodeHello('bad id', 'x')).toThrow(RangeError);
    expect(() => encodeHello('X'.repeat(65), 'x')).toThrow(RangeError);
    expect(() => encodeHello('ok', 'x'.repeat(256))).toThrow(RangeError);
    expect(() => encodeCommand('not-a-uuid', Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeAck(ID, 3)).toThrow(RangeError);
    expect(() => encodeWelcome(0)).toThrow(RangeError);
    expect(() => encodeGoaway(-1)).toThrow(RangeError);
  });

  it('knows the eleven frame types', () => {
    expect(Object.values(FrameType)).toHaveLength(11);
    expect(Object.values(FrameType).every(isKnownFrameType)).toBe(true);
    expect([0x00, 0x08, 0x12, 0x7e, 0x80, 0xff].some(isKnownFrameType)).toBe(false);
  });
});

describe('malformed bodies are BAD_FRAME', () => {
  const hello = (bytes: number[]) => Buffer.from(bytes);
  const A = 0x41;

  it.each([
    ['empty', hello([])],
    ['id length 0', hello([0, 0])],
    ['id length 65', Buffer.concat([hello([65]), Buffer.alloc(65, A), hello([0])])],
    ['id longer than the body', hello([5, A, A, 0])],
    ['phyId with a space', hello([3, A, 0x20, A, 0])],
    ['phyId with a non-ASCII byte', hello([2, A, 0xc3, 0])],
    ['token length past the end', hello([1, A, 4, 0x61, 0x61])],
    ['trailing bytes after the token', hello([1, A, 1, 0x61, 0x61])],
    ['token of 63 hex digits', Buffer.concat([hello([1, A, 63]), Buffer.from('a'.repeat(63))])],
    ['token in uppercase hex', Buffer.concat([hello([1, A, 64]), Buffer.from('A'.repeat(64))])],
    ['token of non-hex characters', Buffer.concat([hello([1, A, 64]), Buffer.from('g'.repeat(64))])],
  ])('HELLO: %s', (_name, body) => {
    expect(badFrame(() => decodeHello(body))).toMatch(/HELLO/);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['id length 0', Buffer.concat([Buffer.from([0]), Buffer.alloc(16)])],
    ['nonce of 15 bytes', Buffer.concat([Buffer.from([1, A]), Buffer.alloc(15)])],
    ['nonce of 17 bytes', Buffer.concat([Buffer.from([1, A]), Buffer.alloc(17)])],
    ['phyId with a space', Buffer.concat([Buffer.from([2, A, 0x20]), Buffer.alloc(16)])],
  ])('HELLO2: %s', (_name, body) => {
    expect(badFrame(() => decodeHello2(body))).toMatch(/HELLO2/);
  });

  it('CHALLENGE is 16 bytes, PROOF 32', () => {
    badFrame(() => decodeChallenge(Buffer.alloc(15)));
    badFrame(() => decodeProof(Buffer.alloc(33)));
  });

  it('WELCOME must be 2 or 34 bytes and a heartbeat of at least 1 s', () => {
    badFrame(() => decodeWelcome(Buffer.alloc(1)));
    badFrame(() => decodeWelcome(Buffer.alloc(3)));
    badFrame(() => decodeWelcome(Buffer.alloc(33)));
    badFrame(() => decodeWelcome(Buffer.alloc(2)));
  });

  it('PING and PONG above 64 bytes', () => {
    badFrame(() => decodePing(Buffer.alloc(65)));
    badFrame(() => decodePong(Buffer.alloc(65)));
  });

  it('COMMAND shorter than its id, ACK shorter than id and status, ACK with an unknown status', () => {
    badFrame(() => decodeCommand(Buffer.alloc(15)));
    badFrame(() => decodeAck(Buffer.alloc(16)));
    expect(badFrame(() => decodeAck(Buffer.concat([Buffer.alloc(16), Buffer.from([3])])))).toMatch(/status 3/);
  });

  it('GOAWAY must be exactly 4 bytes, ERROR must hold a code', () => {
    badFrame(() => decodeGoaway(Buffer.alloc(3)));
    badFrame(() => decodeGoaway(Buffer.alloc(5)));
    badFrame(() => decodeError(Buffer.alloc(0)));
  });
});
