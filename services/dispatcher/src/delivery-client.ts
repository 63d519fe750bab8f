import { Pool } from 'undici';
import { toError } from '@outbound/core';
import {
  DELIVERY_BATCH_PATH, DELIVERY_TIMING_HEADER, LineSplitter, encodeDeliveryBatch, parseAnswerLine,
  type DeliveryAnswerLine, type DeliveryItem,
} from '@outbound/core/delivery';

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

/**
 * Calls ingress replicas' batch delivery endpoint over one keep-alive undici Pool per replica
 * address, and reads the streamed NDJSON answer line by line so each outcome is handed on the
 * moment the device answers, not when the slowest device of the batch does.
 */
export class DeliveryClient {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly options: { internalToken: string; connectionsPerReplica?: number; hopTiming?: boolean }) {}

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
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }
}
