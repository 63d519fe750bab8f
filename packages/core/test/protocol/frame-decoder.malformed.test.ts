import {
  FrameDecoder,
  FrameType,
  ProtocolError,
  WireErrorCode,
  encodeAck,
  encodeFrame,
  encodePing,
  AckStatus,
} from '@outbound/core';

function header(magic: number, version: number, type: number, length: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(magic, 0);
  h[2] = version;
  h[3] = type;
  h.writeUInt32BE(length, 4);
  return h;
}

function pushError(decoder: FrameDecoder, chunk: Buffer): ProtocolError {
  try {
    decoder.push(chunk);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected push() to throw');
}

describe('FrameDecoder on a broken stream', () => {
  it('rejects bad magic as BAD_FRAME', () => {
    expect(pushError(new FrameDecoder(), header(0x4f43, 1, FrameType.PING, 0)).wireCode).toBe(WireErrorCode.BAD_FRAME);
  });

  it('rejects garbage on its first wrong byte, before a whole header arrived', () => {
    const decoder = new FrameDecoder();
    const error = pushError(decoder, Buffer.from('G'));
    expect(error.wireCode).toBe(WireErrorCode.BAD_FRAME);
    expect(error.message).toMatch(/magic/);
  });

  it('rejects an HTTP request sent to the device port', () => {
    expect(pushError(new FrameDecoder(), Buffer.from('GET / HTTP/1.1\r\n\r\n')).wireCode).toBe(WireErrorCode.BAD_FRAME);
  });

  it('rejects another protocol version as BAD_FRAME, also when the version byte arrives alone', () => {
    expect(pushError(new FrameDecoder(), header(0x4f42, 2, FrameType.PING, 0)).message).toMatch(/version 2/);
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.from([0x4f, 0x42]))).toEqual([]);
    expect(pushError(decoder, Buffer.from([0x00])).wireCode).toBe(WireErrorCode.BAD_FRAME);
  });

  it('rejects a declared length above the limit as TOO_LARGE before buffering any body', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
    const error = pushError(decoder, Buffer.concat([header(0x4f42, 1, FrameType.COMMAND, 1025), Buffer.alloc(100)]));
    expect(error.wireCode).toBe(WireErrorCode.TOO_LARGE);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('rejects the default limit plus one byte, declared in a header split across reads', () => {
    const decoder = new FrameDecoder();
    const h = header(0x4f42, 1, FrameType.COMMAND, 65537);
    expect(decoder.push(h.subarray(0, 5))).toEqual([]);
    expect(pushError(decoder, h.subarray(5)).wireCode).toBe(WireErrorCode.TOO_LARGE);
  });

  it('hands back the frames completed before the error and stays failed', () => {
    const decoder = new FrameDecoder();
    const ack = encodeAck('0f8fad5b-d9cb-469f-a165-70867728950e', AckStatus.OK);
    const error = pushError(decoder, Buffer.concat([encodePing(), ack, Buffer.from('junk')]));
    expect(error.decoded.map((f) => f.type)).toEqual([FrameType.PING, FrameType.ACK]);
    expect(pushError(decoder, encodePing())).toBe(error);
  });

  it('passes unknown frame types through for the server to answer with PROTOCOL', () => {
    const [frame] = new FrameDecoder().push(encodeFrame(0x55, Buffer.from('x')));
    expect(frame.type).toBe(0x55);
  });

  it('refuses a limit that is not a u32', () => {
    expect(() => new FrameDecoder({ maxFrameBytes: -1 })).toThrow(RangeError);
  });
});
