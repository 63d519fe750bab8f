import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import { OutboundError, PROBLEM_CONTENT_TYPE, validationError, type FieldIssue } from '@outbound/core/command';
import { DELIVERY_STREAM_PATH, DELIVERY_STREAM_PROTOCOL, checkStreamBatch, encodeStreamAnswerLine, hostClockMs } from '@outbound/core/delivery';
import { COMMAND_ID_BYTES } from '@outbound/core/protocol';
import type { Logger } from '@outbound/core/service';
import { deliverCheckedItems, deliverItems, internalTokenCheck } from './delivery-routes';
import type { DeliveryTracker } from './delivery-tracker';
import { readCanonicalBatch } from './stream-batch';
import { TurnBuffer } from './turn-buffer';

export interface DeliveryStreamOptions {
  tracker: DeliveryTracker;
  internalToken: string;
  /** Longest batch line; a longer one is answered as an error and the stream closed. */
  lineLimitBytes: number;
  maxFrameBytes: number;
  logger: Logger;
  /** Where the stream's own metrics go (the ingress' registry). */
  registry: Registry;
}

/**
 * The delivery stream (`GET /internal/v1/delivery-stream`, upgraded to `outbound-delivery/1`,
 * contract in @outbound/core/delivery): one long-lived connection per dispatcher that carries
 * NDJSON batch lines one way and answer lines tagged with their batch's `s` the other. It
 * does what the batch endpoint does per batch, without a request, its headers and a response
 * per batch (the dispatcher→ingress hop took 1–6 ms per idle batch call over HTTP).
 */
export class DeliveryStreamServer {
  private readonly connections = new Set<Duplex>();
  private readonly authorized: (authorization: string | undefined) => boolean;
  private readonly maxPayloadBytes: number;
  private readonly openGauge: Gauge;
  private readonly batches: Counter;

  constructor(private readonly options: DeliveryStreamOptions) {
    this.authorized = internalTokenCheck(options.internalToken);
    this.maxPayloadBytes = Math.max(0, options.maxFrameBytes - COMMAND_ID_BYTES);
    const registers = [options.registry];
    this.openGauge = new Gauge({ name: 'outbound_ingress_delivery_streams', help: 'Delivery streams open (one per dispatcher using this replica)', registers });
    // A stream's batches have no access-log line or HTTP request metric each: this counts them.
    this.batches = new Counter({ name: 'outbound_ingress_delivery_stream_batches_total', help: 'Batch lines taken on delivery streams', registers });
  }

  /** Streams open now. */
  get openStreams(): number {
    return this.connections.size;
  }

  /** Takes `server`'s upgrade requests (any other upgrade is refused). */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Ends every stream (after the drain answered what was in flight): dispatchers reopen one elsewhere or fall back. */
  close(): void {
    for (const socket of this.connections) {
      socket.end();
      // A peer that never ends its side would hold the HTTP server's close() forever.
      setTimeout(() => socket.destroy(), 1_000).unref();
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.options.logger.debug({ err: error }, 'delivery stream socket error'));
    const path = (req.url ?? '').split('?')[0];
    if (path !== DELIVERY_STREAM_PATH) {
      refuse(socket, new OutboundError('NOT_FOUND', `no upgrade at ${path}`));
      return;
    }
    if (!this.authorized(req.headers.authorization)) {
      refuse(socket, new OutboundError('UNAUTHORIZED', 'send the internal token as "Authorization: Bearer <INTERNAL_TOKEN>"'));
      return;
    }
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== DELIVERY_STREAM_PROTOCOL) {
      refuse(socket, validationError([{ path: 'Upgrade', message: `must be ${DELIVERY_STREAM_PROTOCOL} on a GET` }]));
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${DELIVERY_STREAM_PROTOCOL}\r\n\r\n`);
    const net = socket as Duplex & { setNoDelay?(on: boolean): void; setKeepAlive?(on: boolean, delayMs: number): void };
    net.setNoDelay?.(true);
    net.setKeepAlive?.(true, 30_000);
    this.connections.add(socket);
    this.openGauge.set(this.connections.size);
    // The access log's line for the internal hop: a stream's batches have none of their own.
    const remoteAddress = req.socket.remoteAddress;
    this.options.logger.info({ method: 'GET', route: DELIVERY_STREAM_PATH, status: 101, remoteAddress }, 'delivery stream opened');
    socket.once('close', () => this.options.logger.info({ route: DELIVERY_STREAM_PATH, remoteAddress }, 'delivery stream closed'));
    this.serve(socket, head);
  }

  private serve(socket: Duplex, head: Buffer): void {
    const { tracker, lineLimitBytes } = this.options;
    let closed = false;
    const answers = new TurnBuffer((text) => {
      if (!closed && text) socket.write(text);
    });
    const send = (line: string): void => {
      if (!closed) answers.add(line);
    };
    /** A line that is not a batch: say why, then close (what follows on the stream cannot be trusted). */
    const fail = (s: number | null, issues: FieldIssue[]): void => {
      const error = validationError(issues, 'delivery stream line');
      send(encodeStreamAnswerLine(s, null, null, { status: error.status, error: { code: error.code, message: error.message } }));
      answers.flush();
      closed = true;
      socket.end();
    };
    /** A line the canonical reader did not take: parsed and checked the general way. */
    const onLine = (line: string, receivedAt: number): void => {
      let body: unknown;
      try {
        body = JSON.parse(line);
      } catch {
        fail(null, [{ path: '(line)', message: 'must be JSON' }]);
        return;
      }
      const batch = checkStreamBatch(body);
      if ('issues' in batch) {
        fail(batch.s, batch.issues);
        return;
      }
      this.batches.inc();
      const { s } = batch;
      deliverItems(tracker, batch.items, { maxPayloadBytes: this.maxPayloadBytes, receivedAt: batch.timing ? receivedAt : 0 }, (id, phyId, answer, checked) =>
        send(encodeStreamAnswerLine(s, id, phyId, answer, checked)),
      );
    };
    /** Line `data[start, end)`: read straight from its bytes when it has the form dispatchers write (stream-batch.ts). */
    const onLineBytes = (data: Buffer, start: number, end: number): void => {
      if (closed) return;
      const receivedAt = hostClockMs();
      const batch = readCanonicalBatch(data, start, end, this.maxPayloadBytes);
      if (!batch) {
        onLine(data.toString('utf8', start, end), receivedAt);
        return;
      }
      this.batches.inc();
      const { s } = batch;
      deliverCheckedItems(tracker, batch.items, batch.timing ? receivedAt : 0, (id, phyId, answer) => send(encodeStreamAnswerLine(s, id, phyId, answer, true)));
    };
    /** The part of a line the last chunk cut off (LF ends a line, a CR before it is dropped, empty lines are skipped). */
    let rest: Buffer | null = null;
    /** Bytes since the last newline: a line may not grow past lineLimitBytes. */
    let open = 0;
    const onData = (chunk: Buffer): void => {
      if (closed) return;
      const newline = chunk.lastIndexOf(10);
      open = newline < 0 ? open + chunk.length : chunk.length - newline - 1;
      if (open > lineLimitBytes) {
        fail(null, [{ path: '(line)', message: `must be at most ${lineLimitBytes} bytes` }]);
        return;
      }
      let data = chunk;
      if (rest) {
        data = Buffer.concat([rest, chunk]);
        rest = null;
      }
      let start = 0;
      let at: number;
      while ((at = data.indexOf(10, start)) >= 0) {
        const end = at > start && data[at - 1] === 13 ? at - 1 : at;
        if (end > start) onLineBytes(data, start, end);
        start = at + 1;
      }
      if (start < data.length) rest = data.subarray(start);
    };
    socket.on('data', onData);
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      closed = true;
      this.connections.delete(socket);
      this.openGauge.set(this.connections.size);
    });
    if (head.length > 0) onData(head);
  }
}

/** A plain HTTP answer to an upgrade this server will not make, then the connection closed. */
function refuse(socket: Duplex, error: OutboundError): void {
  const body = JSON.stringify(error.toProblem());
  socket.end(
    `HTTP/1.1 ${error.status} ${error.code}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
