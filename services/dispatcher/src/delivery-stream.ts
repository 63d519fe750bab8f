import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { toError } from '@outbound/core';
import {
  DELIVERY_STREAM_PATH, DELIVERY_STREAM_PROTOCOL, LineSplitter, encodeStreamBatch, parseStreamAnswerLine,
  type DeliveryAnswerLine, type DeliveryItem, type DeliveryStreamAnswer,
} from '@outbound/core/delivery';

/** The ingress answered the upgrade with something else than 101 (an ingress without the stream, or one that turned it off). */
export class StreamRefusedError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'StreamRefusedError';
  }
}

/** A batch on the stream ended without all its answers: the stream broke, or the wait ran out. */
export class StreamBatchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamBatchError';
  }
}

interface OpenBatch {
  /** Answers still due. */
  left: number;
  onAnswer: (answer: DeliveryAnswerLine) => void;
  resolve: () => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One delivery stream to one ingress replica (contract: @outbound/core/delivery): batches go
 * out as numbered NDJSON lines on one upgraded connection, answers come back tagged with their
 * batch's number, in any order. When the connection ends, every batch still waiting rejects
 * with StreamBatchError: the caller treats it as a failed batch call after sending.
 */
export class DeliveryStream {
  private readonly batches = new Map<number, OpenBatch>();
  private nextBatch = 0;
  private closedWith: Error | null = null;
  private corked = false;
  /** Chunks read from the ingress so far. */
  private reads = 0;
  private readonly closeListeners: Array<() => void> = [];

  private constructor(private readonly socket: Socket, readonly address: string, head: Buffer) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const lines = new LineSplitter();
    const onLine = (line: string): void => this.answer(line);
    socket.on('data', (chunk: Buffer) => {
      this.reads++;
      try {
        lines.push(chunk, onLine);
      } catch (error) {
        // A line that is not an answer: nothing after it on this connection can be trusted.
        socket.destroy(toError(error));
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', (error) => { this.closedWith ??= error; });
    socket.on('close', () => this.closed());
    if (head.length > 0) socket.emit('data', head);
  }

  /**
   * Asks `address` for a stream: resolves once the ingress answered 101, rejects with
   * StreamRefusedError on any other answer, or with the connection's error (nothing of any
   * batch was sent either way).
   */
  static open(address: string, internalToken: string, timeoutMs: number): Promise<DeliveryStream> {
    const url = new URL(DELIVERY_STREAM_PATH, address);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let req: ClientRequest | null = null;
      const timer = setTimeout(() => {
        const error = Object.assign(new Error(`no answer to the delivery stream upgrade within ${timeoutMs} ms`), { code: 'STREAM_OPEN_TIMEOUT' });
        req?.destroy(error);
      }, timeoutMs);
      req = send(url, {
        method: 'GET',
        agent: false,
        headers: { connection: 'Upgrade', upgrade: DELIVERY_STREAM_PROTOCOL, authorization: `Bearer ${internalToken}` },
      });
      req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        clearTimeout(timer);
        if ((res.headers.upgrade ?? '').toLowerCase() !== DELIVERY_STREAM_PROTOCOL) {
          socket.destroy();
          reject(new StreamRefusedError(101, `${address} upgraded to ${res.headers.upgrade ?? 'nothing'}, not ${DELIVERY_STREAM_PROTOCOL}`));
          return;
        }
        resolve(new DeliveryStream(socket, address, head));
      });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        res.resume();
        reject(new StreamRefusedError(res.statusCode ?? 0, `${address} answered the delivery stream upgrade with ${res.statusCode}`));
      });
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end();
    });
  }

  /** False once the connection ended or broke: open another. */
  get usable(): boolean {
    return this.closedWith === null && !this.socket.destroyed && this.socket.writable;
  }

  /** Batches sent and not fully answered. */
  get inFlight(): number {
    return this.batches.size;
  }

  onClose(listener: () => void): void {
    if (this.usable) this.closeListeners.push(listener);
    else listener();
  }

  /**
   * Sends one batch; `onAnswer` runs per answer line. Resolves once every delivery of it was
   * answered; rejects with StreamBatchError when the stream ends first or `waitMs` passes.
   * Throws StreamBatchError at once, nothing sent, when the stream is no longer usable.
   */
  send(items: readonly DeliveryItem[], timing: boolean, waitMs: number, onAnswer: (answer: DeliveryAnswerLine) => void): Promise<void> {
    if (!this.usable) return Promise.reject(new StreamBatchError(`delivery stream to ${this.address} is closed`));
    const s = this.nextBatch;
    this.nextBatch = this.nextBatch >= Number.MAX_SAFE_INTEGER ? 0 : this.nextBatch + 1;
    const readsBefore = this.reads;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.batches.delete(s);
        reject(new StreamBatchError(`delivery stream to ${this.address}: batch ${s} not fully answered within ${waitMs} ms`));
        // Not a byte from the ingress since this batch went out, for longer than any ACK wait:
        // the connection is presumed dead (a frozen or unreachable replica; TCP keepalive would
        // take minutes to say so). Its other batches fail with it, and the next opens a new one.
        if (this.reads === readsBefore) this.socket.destroy(new Error(`nothing read for ${waitMs} ms`));
      }, waitMs);
      this.batches.set(s, { left: items.length, onAnswer, resolve, reject, timer });
      // Batches of one turn leave as one write.
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        queueMicrotask(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(encodeStreamBatch(s, items, timing));
    });
  }

  /** Ends the stream: batches still waiting reject. */
  close(): void {
    this.closedWith ??= new Error('delivery client closed');
    this.socket.destroy();
  }

  private answer(line: string): void {
    const answer: DeliveryStreamAnswer = parseStreamAnswerLine(line);
    const batch = answer.s === null ? undefined : this.batches.get(answer.s);
    if (!batch) {
      // A line for no batch: the ingress could not read one of ours and closes the stream (all
      // batches then fail), or a batch this side stopped waiting for.
      return;
    }
    const s = answer.s!;
    batch.left -= 1;
    try {
      batch.onAnswer(answer);
    } catch (error) {
      // The caller's own failure ends its batch, not the stream the other batches share.
      this.batches.delete(s);
      clearTimeout(batch.timer);
      batch.reject(toError(error));
      return;
    }
    if (batch.left <= 0) {
      this.batches.delete(s);
      clearTimeout(batch.timer);
      batch.resolve();
    }
  }

  private closed(): void {
    const why = this.closedWith ? `: ${this.closedWith.message}` : '';
    this.closedWith ??= new Error('closed');
    for (const [s, batch] of this.batches) {
      this.batches.delete(s);
      clearTimeout(batch.timer);
      batch.reject(new StreamBatchError(`delivery stream to ${this.address} closed with ${batch.left} answer(s) of batch ${s} outstanding${why}`, { cause: this.closedWith }));
    }
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
