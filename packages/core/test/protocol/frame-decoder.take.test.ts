import {
  AckStatus,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameType,
  ProtocolError,
  WireErrorCode,
  decodeAck,
  decodeCommand,
  encodeAck,
  encodeCommand,
  encodeFrame,
  encodePing,
  readCommandId,
  type Frame,
} from '@outbound/core';

const ID_A = '0f8fad5b-d9cb-469f-a165-70867728950e';
const ID_B = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

type Taken = { type: number; id: string; status?: number; result?: string; payload?: string };

/** takeAcks() and takeCommands() on `chunk`, then push() of the rest: what each path produced, in order. */
function takeThenPush(decoder: FrameDecoder, chunk: Buffer, kind: 'ack' | 'command', stopAfter = Infinity): { taken: Taken[]; bytes: number; pushed: Frame[] | ProtocolError } {
  const taken: Taken[] = [];
  const bytes = kind === 'ack'
    ? decoder.takeAcks(chunk, (source, idAt, status, result) => {
      taken.push({ type: FrameType.ACK, id: readCommandId(source, idAt), status, result: result.toString('hex') });
      return taken.length < stopAfter;
    })
    : decoder.takeCommands(chunk, (source, idAt, end) => {
      taken.push({ type: FrameType.COMMAND, id: readCommandId(source, idAt), payload: source.toString('hex', idAt + 16, end) });
      return taken.length < stopAfter;
    });
  let pushed: Frame[] | ProtocolError;
  try {
    pushed = decoder.push(chunk.subarray(bytes));
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    pushed = error;
  }
  return { taken, bytes, pushed };
}

/** What push() alone makes of a frame, in the shape the take callbacks report. */
function asTaken(frame: Frame): Taken {
  if (frame.type === FrameType.ACK) {
    const ack = decodeAck(frame.body);
    return { type: FrameType.ACK, id: ack.id, status: ack.status, result: ack.result.toString('hex') };
  }
  const command = decodeCommand(frame.body);
  return { type: FrameType.COMMAND, id: command.id, payload: command.payload.toString('hex') };
}

function header(type: number, length: number, magic = 0x4f42, version = 1): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt16BE(magic, 0);
  h[2] = version;
  h[3] = type;
  h.writeUInt32BE(length, 4);
  return h;
}

describe('FrameDecoder.takeAcks', () => {
  it('hands over the whole ACKs at the start of a read, with or without result bytes, and leaves what follows to push()', () => {
    const decoder = new FrameDecoder();
    const acks = [encodeAck(ID_A, AckStatus.OK), encodeAck(ID_B, AckStatus.REJECTED, Buffer.from('no')), encodeAck(ID_A, AckStatus.BUSY)];
    const ping = encodePing(Buffer.from('hb'));
    const { taken, bytes, pushed } = takeThenPush(decoder, Buffer.concat([...acks, ping, encodeAck(ID_B, AckStatus.OK)]), 'ack');
    expect(taken).toEqual([
      { type: FrameType.ACK, id: ID_A, status: AckStatus.OK, result: '' },
      { type: FrameType.ACK, id: ID_B, status: AckStatus.REJECTED, result: Buffer.from('no').toString('hex') },
      { type: FrameType.ACK, id: ID_A, status: AckStatus.BUSY, result: '' },
    ]);
    expect(bytes).toBe(acks.reduce((n, a) => n + a.length, 0));
    // An ACK after another frame is push()'s: the shortcut only covers the start of a read.
    expect((pushed as Frame[]).map((f) => f.type)).toEqual([FrameType.PING, FrameType.ACK]);
  });

  it('stops when the callback says so', () => {
    const decoder = new FrameDecoder();
    const { taken, bytes, pushed } = takeThenPush(decoder, Buffer.concat([encodeAck(ID_A, AckStatus.OK), encodeAck(ID_B, AckStatus.OK)]), 'ack', 1);
    expect(taken.map((t) => t.id)).toEqual([ID_A]);
    expect(bytes).toBe(encodeAck(ID_A, AckStatus.OK).length);
    expect((pushed as Frame[]).map(asTaken)).toEqual([{ type: FrameType.ACK, id: ID_B, status: AckStatus.OK, result: '' }]);
  });

  it.each([
    ['an ACK whose status is no AckStatus', Buffer.concat([header(FrameType.ACK, 17), Buffer.alloc(16, 1), Buffer.from([9])]), WireErrorCode.BAD_FRAME, false],
    ['an ACK shorter than id and status', Buffer.concat([header(FrameType.ACK, 16), Buffer.alloc(16, 1)]), WireErrorCode.BAD_FRAME, false],
    ['an ACK above the frame limit', encodeAck(ID_A, AckStatus.OK, Buffer.alloc(40)), WireErrorCode.TOO_LARGE, true],
    ['an ACK with bad magic', Buffer.concat([header(FrameType.ACK, 17, 0x4f43), Buffer.alloc(17)]), WireErrorCode.BAD_FRAME, true],
    ['an ACK of another protocol version', Buffer.concat([header(FrameType.ACK, 17, 0x4f42, 2), Buffer.alloc(17)]), WireErrorCode.BAD_FRAME, true],
  ])('takes the ACKs before %s and leaves it to push(), which refuses it as before', (_what, bad, code, byDecoder) => {
    const decoder = new FrameDecoder({ maxFrameBytes: 32 });
    const good = encodeAck(ID_A, AckStatus.OK);
    const { taken, bytes, pushed } = takeThenPush(decoder, Buffer.concat([good, bad]), 'ack');
    expect(taken.map((t) => t.id)).toEqual([ID_A]);
    expect(bytes).toBe(good.length);
    if (byDecoder) {
      // The header rules: push() throws.
      expect(pushed).toBeInstanceOf(ProtocolError);
      expect((pushed as ProtocolError).wireCode).toBe(code);
    } else {
      // A body rule: push() hands the frame over and decodeAck() refuses it, as the server does.
      const frames = pushed as Frame[];
      expect(frames.map((f) => f.type)).toEqual([FrameType.ACK]);
      expect(() => decodeAck(frames[0].body)).toThrow(ProtocolError);
    }
  });

  it('leaves an ACK the read cut off to push(), and takes nothing while part of a frame is held or after an error', () => {
    const decoder = new FrameDecoder();
    const ack = encodeAck(ID_A, AckStatus.OK);
    const first = takeThenPush(decoder, Buffer.concat([ack, ack.subarray(0, 10)]), 'ack');
    expect(first.taken).toHaveLength(1);
    expect(first.pushed).toEqual([]);
    expect(decoder.bufferedBytes).toBeGreaterThan(0);
    // The rest of the held ACK, then a whole one: both are push()'s, in stream order.
    const second = takeThenPush(decoder, Buffer.concat([ack.subarray(10), ack]), 'ack');
    expect(second.bytes).toBe(0);
    expect((second.pushed as Frame[]).map(asTaken).map((t) => t.id)).toEqual([ID_A, ID_A]);

    // A read that goes on with the body of a held frame is body, even when its bytes look like an ACK.
    const carrier = encodeCommand(ID_B, ack);
    const holding = new FrameDecoder();
    expect(takeThenPush(holding, carrier.subarray(0, FRAME_HEADER_BYTES + 16), 'ack').pushed).toEqual([]);
    const rest = takeThenPush(holding, carrier.subarray(FRAME_HEADER_BYTES + 16), 'ack');
    expect(rest.taken).toEqual([]);
    expect((rest.pushed as Frame[]).map(asTaken)).toEqual([{ type: FrameType.COMMAND, id: ID_B, payload: ack.toString('hex') }]);

    const broken = new FrameDecoder();
    expect(() => broken.push(Buffer.from('GARBAGE!'))).toThrow(ProtocolError);
    expect(broken.takeAcks(ack, () => true)).toBe(0);
  });

  it('produces exactly what push() alone produces, for streams of mixed frames cut at every byte', () => {
    const frames = [
      encodeAck(ID_A, AckStatus.OK), encodeAck(ID_B, AckStatus.REJECTED, Buffer.from('why')), encodeCommand(ID_A, Buffer.from('on')),
      encodeAck(ID_B, AckStatus.BUSY), encodePing(), encodeCommand(ID_B, Buffer.alloc(0)), encodeCommand(ID_A, Buffer.from('off')),
      encodeFrame(FrameType.ACK, Buffer.concat([Buffer.alloc(16, 2), Buffer.from([0])])), encodeAck(ID_A, AckStatus.OK),
    ];
    const stream = Buffer.concat(frames);
    const expected = new FrameDecoder().push(stream).map((f) => (f.type === FrameType.PING ? { type: f.type, id: '' } : asTaken(f)));
    for (const kind of ['ack', 'command'] as const) {
      for (let cut = 0; cut <= stream.length; cut++) {
        const decoder = new FrameDecoder();
        const got: Taken[] = [];
        for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) {
          const { taken, pushed } = takeThenPush(decoder, chunk, kind);
          got.push(...taken, ...(pushed as Frame[]).map((f) => (f.type === FrameType.PING ? { type: f.type, id: '' } : asTaken(f))));
        }
        expect(got).toEqual(expected);
        expect(decoder.bufferedBytes).toBe(0);
      }
    }
  });
});

describe('FrameDecoder.takeCommands', () => {
  it('hands over the whole COMMANDs at the start of a read, empty payloads included, and leaves the rest to push()', () => {
    const decoder = new FrameDecoder();
    const commands = [encodeCommand(ID_A, Buffer.from('set-power:on')), encodeCommand(ID_B, Buffer.alloc(0))];
    const { taken, bytes, pushed } = takeThenPush(decoder, Buffer.concat([...commands, encodeAck(ID_A, AckStatus.OK)]), 'command');
    expect(taken).toEqual([
      { type: FrameType.COMMAND, id: ID_A, payload: Buffer.from('set-power:on').toString('hex') },
      { type: FrameType.COMMAND, id: ID_B, payload: '' },
    ]);
    expect(bytes).toBe(commands[0].length + commands[1].length);
    expect((pushed as Frame[]).map((f) => f.type)).toEqual([FrameType.ACK]);
  });

  it('leaves a COMMAND too short for its id, or above the limit, to push()', () => {
    const short = Buffer.concat([header(FrameType.COMMAND, 15), Buffer.alloc(15)]);
    const decoder = new FrameDecoder();
    const { taken, pushed } = takeThenPush(decoder, short, 'command');
    expect(taken).toEqual([]);
    expect(() => decodeCommand((pushed as Frame[])[0].body)).toThrow(ProtocolError);

    const small = new FrameDecoder({ maxFrameBytes: 20 });
    const big = takeThenPush(small, encodeCommand(ID_A, Buffer.alloc(5)), 'command');
    expect(big.taken).toEqual([]);
    expect((big.pushed as ProtocolError).wireCode).toBe(WireErrorCode.TOO_LARGE);
  });
});
