import { Pool } from 'undici';
import { toError, type Logger } from '@outbound/core';
import {
  DELIVERY_BATCH_PATH, DELIVERY_TIMING_HEADER, LineSplitter, encodeDeliveryBatch, parseAnswerLine,
  type DeliveryAnswerLine, type DeliveryItem,
} from '@outbound/core/delivery';
import { DeliveryStream, StreamBatchError, StreamRefusedError } from './delivery-stream';

/** One command for one device, as the ingress batch endpoint takes it (the contract's item). */
export type Delivery = DeliveryItem;

/** One line of the ingress' NDJSON answer (the contract's answer line). */
export type DeliveryAnswer = DeliveryAnswerLine;

/**
 * A batch call failed as a whole. `notSent` is true when no byte reached the replica (it
 * refused or never answered the connect), so no device can have seen any command of it.
 */
export class DeliveryBatchError extends Error {
  constructor(message: string, readonly notSent: boolean, readonly httpStatus: number | null, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryBatchError';
  }
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH']);

export interface DeliveryClientOptions {
  internalToken: string;
  connectionsPerReplica?: number;
  hopTiming?: boolean;
  /** One delivery stream per replica (DISPATCHER_DELIVERY_STREAM); false: a batch call each. */
  stream?: boolean;
  /** How long a replica that refused the stream gets batch calls before the stream is asked again. */
  streamRetryMs?: number;
  logger?: Logger;
}

/** Default wait before asking a replica that refused the stream again (a rolling deploy has replaced it by then). */
const STREAM_RETRY_MS = 60_000;
/** Longest wait for the ingress' answer to the stream upgrade. */
const STREAM_OPEN_TIMEOUT_MS = 2_000;

/**
 * Delivers batches to ingress replicas, each outcome handed on the moment its device answers,
 * not when the slowest device of the batch does. By default over one delivery stream per
 * replica (one upgraded connection carrying every batch, answers tagged with their batch); to a
 * replica that refuses the stream (an older ingress during a rolling deploy), and with
 * `stream: false`, by batch calls over one keep-alive undici Pool per replica address, reading
 * the NDJSON answer line by line.
 */
export class DeliveryClient {
  private readonly pools = new Map<string, Pool>();
  private readonly streams = new Map<string, DeliveryStream | Promise<DeliveryStream | null>>();
  /** Replicas that refused the stream, and until when they get batch calls. */
  private readonly batchCallsUntil = new Map<string, number>();
  private closing = false;

  constructor(private readonly options: DeliveryClientOptions) {}

  /** The replicas a stream is open to now. */
  get openStreams(): string[] {
    return [...this.streams].filter(([, s]) => s instanceof DeliveryStream && s.usable).map(([address]) => address);
  }

  private pool(address: string): Pool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new Pool(address, { connections: this.options.connectionsPerReplica ?? 32, keepAliveTimeout: 30_000, connectTimeout: 2_000 });
      this.pools.set(address, pool);
    }
    return pool;
  }

  /**
   * Delivers up to DELIVERY_BATCH_MAX commands to one replica; `onAnswer` runs per NDJSON line.
   * Throws DeliveryBatchError when the call as a whole fails.
   */
  async deliverBatch(address: string, deliveries: Delivery[], onAnswer: (answer: DeliveryAnswer) => void): Promise<void> {
    let longest = 0;
    for (const d of deliveries) if (d.ackTimeoutMs > longest) longest = d.ackTimeoutMs;
    const waitMs = longest + 5_000;
    if (this.options.stream !== false) {
      // A stream found closed when the batch is handed to it sent nothing: one more is asked for.
      for (let tries = 0; tries < 2; tries++) {
        const stream = await this.stream(address);
        if (!stream) break;
        if (!stream.usable) continue;
        try {
          await stream.send(deliveries, this.options.hopTiming ?? false, waitMs, onAnswer);
          return;
        } catch (error) {
          // Whatever was written may have reached devices: the batch failed after sending, as a broken batch call.
          if (error instanceof StreamBatchError) throw new DeliveryBatchError(error.message, false, null, { cause: error });
          throw error;
        }
      }
    }
    await this.deliverByCall(address, deliveries, waitMs, onAnswer);
  }

  /**
   * The open stream to `address`, or one opened now; null when this batch goes by batch call
   * (the replica refused the stream lately, or opening failed other than by a refused connect).
   * Throws DeliveryBatchError (notSent) when the replica refuses connections.
   */
  private async stream(address: string): Promise<DeliveryStream | null> {
    const until = this.batchCallsUntil.get(address);
    if (until !== undefined) {
      if (Date.now() < until) return null;
      this.batchCallsUntil.delete(address);
    }
    const current = this.streams.get(address);
    if (current instanceof DeliveryStream) {
      if (current.usable) return current;
      this.streams.delete(address);
    } else if (current) {
      return current;
    }
    if (this.closing) return null;
    const opening = DeliveryStream.open(address, this.options.internalToken, STREAM_OPEN_TIMEOUT_MS).then(
      (stream) => {
        if (this.closing) {
          stream.close();
          return null;
        }
        this.streams.set(address, stream);
        stream.onClose(() => {
          if (this.streams.get(address) === stream) this.streams.delete(address);
        });
        return stream;
      },
      (error: unknown) => {
        this.streams.delete(address);
        if (error instanceof StreamRefusedError) {
          const retryMs = this.options.streamRetryMs ?? STREAM_RETRY_MS;
          this.batchCallsUntil.set(address, Date.now() + retryMs);
          this.options.logger?.info({ address, status: error.status, retryInMs: retryMs }, 'ingress refused the delivery stream: using batch calls to it');
          return null;
        }
        const code = (error as { code?: string }).code ?? '';
        if (CONNECT_FAILURES.has(code)) throw new DeliveryBatchError(`delivery stream to ${address} failed: ${toError(error).message}`, true, null, { cause: error });
        this.options.logger?.warn({ address, err: toError(error) }, 'opening the delivery stream failed: this batch goes by batch call');
        return null;
      },
    );
    this.streams.set(address, opening);
    return opening;
  }

  private async deliverByCall(address: string, deliveries: Delivery[], waitMs: number, onAnswer: (answer: DeliveryAnswer) => void): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${this.options.internalToken}` };
    if (this.options.hopTiming) headers[DELIVERY_TIMING_HEADER] = '1';
    // Each delivery names its own trace in the body (a batch mixes commands of many traces); a
    // batch of one also sends it as the W3C `traceparent` header.
    if (deliveries.length === 1 && deliveries[0]!.traceparent) headers.traceparent = deliveries[0]!.traceparent;
    let response;
    try {
      response = await this.pool(address).request({
        method: 'POST',
        path: DELIVERY_BATCH_PATH,
        headers,
        body: encodeDeliveryBatch(deliveries),
        headersTimeout: waitMs,
        bodyTimeout: waitMs,
      });
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      throw new DeliveryBatchError(`delivery call to ${address} failed: ${toError(error).message}`, CONNECT_FAILURES.has(code), null, { cause: error });
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      throw new DeliveryBatchError(`delivery call to ${address} answered ${response.statusCode}: ${text.slice(0, 300)}`, false, response.statusCode);
    }
    const lines = new LineSplitter();
    const onLine = (line: string): void => onAnswer(parseAnswerLine(line));
    try {
      for await (const chunk of response.body) lines.push(chunk as Buffer, onLine);
      lines.end(onLine);
    } catch (error) {
      throw new DeliveryBatchError(`delivery stream from ${address} broke: ${toError(error).message}`, false, 200, { cause: error });
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const stream of streams) {
      if (stream instanceof DeliveryStream) stream.close();
      else void stream.then((s) => s?.close(), () => undefined);
    }
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }
}
