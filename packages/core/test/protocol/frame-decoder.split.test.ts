import {
  AckStatus,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  encodeAck,
  encodeCommand,
  encodeFrame,
  encodeGoaway,
  encodeHello,
  encodePing,
  encodeWelcome,
  type Frame,
} from '@outbound/core';

const ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** A session's worth of frames of every shape: empty body, tiny, ordinary and a 3 KiB body. */
function sampleFrames(): Buffer[] {
  return [
    encodeHello('DEV-001', 'a'.repeat(64)),
    encodeWelcome(30),
    encodePing(),
    encodeCommand(ID, Buffer.from('set-power:on')),
    encodeAck(ID, AckStatus.OK, Buffer.from('done')),
    encodeFrame(FrameType.COMMAND, Buffer.alloc(3000, 7)),
    encodeGoaway(5000),
  ];
}

function expectSameFrames(decoded: Frame[], encoded: Buffer[]): void {
  expect(decoded.map((f) => [f.type, f.body.toString('hex')])).toEqual(
    encoded.map((b) => [b[3], b.subarray(FRAME_HEADER_BYTES).toString('hex')]),
  );
}

describe('FrameDecoder on a stream split and coalesced every way', () => {
  const frames = sampleFrames();
  const stream = Buffer.concat(frames);

  it('decodes the whole stream pushed as one chunk (coalesced frames)', () => {
    const decoder = new FrameDecoder();
    expectSameFrames(decoder.push(stream), frames);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('decodes the stream split into two chunks at every byte', () => {
    for (let split = 0; split <= stream.length; split++) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expectSameFrames(decoded, frames);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('decodes the stream split into three chunks at every pair of points in the first frames', () => {
    // Every pair inside the first 200 bytes covers header/header, header/body and body/header cuts.
    const limit = 200;
    for (let a = 0; a <= limit; a++) {
      for (let b = a; b <= limit; b += 3) {
        const decoder = new FrameDecoder();
        const decoded = [
          ...decoder.push(stream.subarray(0, a)),
          ...decoder.push(stream.subarray(a, b)),
          ...decoder.push(stream.subarray(b)),
        ];
        expectSameFrames(decoded, frames);
      }
    }
  });

  it('decodes the stream fed one byte at a time and reports what it holds', () => {
    const decoder = new FrameDecoder();
    const decoded: Frame[] = [];
    let maxBuffered = 0;
    for (let i = 0; i < stream.length; i++) {
      decoded.push(...decoder.push(stream.subarray(i, i + 1)));
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    }
    expectSameFrames(decoded, frames);
    // The most it ever held is the largest body (3000 bytes) one byte short of complete:
    // once a header is parsed only body bytes are kept.
    expect(maxBuffered).toBe(3000 - 1);
  });

  it('returns bodies that survive reuse of the chunk they were split across', () => {
    const decoder = new FrameDecoder();
    const frame = encodeCommand(ID, Buffer.from('payload-bytes'));
    const first = Buffer.from(frame.subarray(0, 15));
    expect(decoder.push(first)).toEqual([]);
    first.fill(0); // a socket may reuse its read buffer; held bytes must be copies
    const [decoded] = decoder.push(Buffer.from(frame.subarray(15)));
    expect(decoded.body.toString('hex')).toBe(frame.subarray(FRAME_HEADER_BYTES).toString('hex'));
  });

  it('accepts a body exactly at the configured limit', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 });
    const [frame] = decoder.push(encodeFrame(FrameType.COMMAND, Buffer.alloc(100, 1)));
    expect(frame.body.length).toBe(100);
  });
});
