import Redis, { Command } from 'ioredis';
import type { RedisClient } from './connection';

/** One argument of a Redis call: numbers are sent as their decimal text, as ioredis sends them. */
export type RespArg = string | number | Buffer;

const CR = 13;
const LF = 10;
/** Strings up to this length that are all ASCII are copied by a loop: a `write` call costs more than the copy. */
const SHORT = 64;

function digits(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1_000 ? 3 : n < 10_000 ? 4 : n < 100_000 ? 5 : String(n).length;
}

/** `<mark><n>\r\n` at `o`; answers the offset after it. */
function writeHeader(out: Buffer, o: number, mark: number, n: number): number {
  out[o++] = mark;
  if (n < 10) out[o++] = 48 + n;
  else o += out.write(String(n), o, 'latin1');
  out[o++] = CR;
  out[o++] = LF;
  return o;
}

/**
 * A Redis call `head` then `tail` as one RESP array of bulk strings, in one buffer sized before
 * it is written. ioredis builds a call with Buffer arguments out of one string per argument
 * (`$<len>\r\n<arg>\r\n`, each measured twice) and copies them into a buffer: for a script call
 * carrying hundreds of items that was about half of what building its arguments cost.
 */
export function encodeRespCall(head: readonly RespArg[], tail: readonly RespArg[]): Buffer {
  const count = head.length + tail.length;
  const values: Array<string | Buffer> = new Array(count);
  const lengths: number[] = new Array(count);
  let size = 1 + digits(count) + 2;
  for (let i = 0; i < count; i++) {
    const arg = i < head.length ? head[i]! : tail[i - head.length]!;
    const value = typeof arg === 'number' ? String(arg) : arg;
    const length = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    values[i] = value;
    lengths[i] = length;
    size += 1 + digits(length) + 2 + length + 2;
  }
  const out = Buffer.allocUnsafe(size);
  let o = writeHeader(out, 0, 42 /* * */, count);
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    const length = lengths[i]!;
    o = writeHeader(out, o, 36 /* $ */, length);
    if (typeof value !== 'string') {
      if (length <= SHORT) for (let j = 0; j < length; j++) out[o + j] = value[j]!;
      else value.copy(out, o);
    } else if (length === value.length && length <= SHORT) {
      for (let j = 0; j < length; j++) out[o + j] = value.charCodeAt(j);
    } else {
      out.write(value, o, length, 'utf8');
    }
    o += length;
    out[o++] = CR;
    out[o++] = LF;
  }
  return out;
}

/** A call whose bytes were encoded beforehand (encodeRespCall): ioredis writes them as they are, also when it re-sends the call after a reconnect. */
class EncodedCommand extends Command {
  constructor(name: string, private readonly encoded: Buffer, replyEncoding: 'utf8' | null) {
    super(name, [], { replyEncoding });
  }

  override toWritable(): Buffer {
    return this.encoded;
  }
}

/**
 * Sends `name` with `head` then `tail` as its arguments, encoded in one pass (encodeRespCall);
 * `buffers`: the reply as Buffers (callBuffer), else as strings (call). A Cluster (which routes
 * by the keys among the arguments), or a client with a key prefix, auto-pipelining or friendly
 * error stacks (which ioredis applies to the arguments or the call as it builds it), gets the
 * call through ioredis as usual.
 */
export function sendEncoded(client: RedisClient, name: string, head: readonly RespArg[], tail: readonly RespArg[], buffers: boolean): Promise<unknown> {
  if (!(client instanceof Redis) || client.options.keyPrefix || client.options.enableAutoPipelining || client.options.showFriendlyErrorStack) {
    const args = [...head, ...tail];
    return buffers ? client.callBuffer(name, ...args) : client.call(name, ...args);
  }
  return client.sendCommand(new EncodedCommand(name, encodeRespCall([name, ...head], tail), buffers ? null : 'utf8')) as Promise<unknown>;
}
