import { Pool } from 'undici';
import { toError } from '@outbound/core';

/** One command for one device, as the ingress batch endpoint takes it. */
export interface Delivery {
  phyId: string;
  id: string;
  payload: Buffer;
  ackTimeoutMs: number;
  epoch: number;
  /** W3C traceparent of the attempt (tracing on): the ingress's span for this delivery continues it. */
  traceparent?: string;
}

/** One line of the ingress' NDJSON answer. */
export interface DeliveryAnswer {
  id: string;
  phyId: string;
  status: number;
  outcome?: 'ok' | 'rejected' | 'busy';
  result?: Buffer;
  latencyMs?: number;
  error?: { code: string; message: string };
}

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

  constructor(private readonly options: { internalToken: string; connectionsPerReplica?: number }) {}

  private pool(address: string): Pool {
    let pool = this.pools.get(address);
    if (!pool) {
      pool = new Pool(address, { connections: this.options.connectionsPerReplica ?? 32, keepAliveTimeout: 30_000, connectTimeout: 2_000 });
      this.pools.set(address, pool);
    }
    return pool;
  }

  /** Delivers up to 1000 commands to one replica; `onAnswer` runs per NDJSON line. Throws DeliveryBatchError when the call as a whole fails. */
  async deliverBatch(address: string, deliveries: Delivery[], onAnswer: (answer: DeliveryAnswer) => void): Promise<void> {
    const waitMs = Math.max(...deliveries.map((d) => d.ackTimeoutMs)) + 5_000;
    const body = JSON.stringify({
      deliveries: deliveries.map((d) => ({ phyId: d.phyId, id: d.id, payload: d.payload.toString('base64'), ackTimeoutMs: d.ackTimeoutMs, epoch: d.epoch, traceparent: d.traceparent })),
    });
    // Each delivery names its own trace in the body (a batch mixes commands of many traces); a
    // batch of one also sends it as the W3C `traceparent` header.
    const traceparent = deliveries.length === 1 ? deliveries[0]!.traceparent : undefined;
    let response;
    try {
      response = await this.pool(address).request({
        method: 'POST',
        path: '/internal/v1/deliveries',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.internalToken}`, ...(traceparent ? { traceparent } : {}) },
        body,
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
    let buffered = '';
    try {
      for await (const chunk of response.body) {
        buffered += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) onAnswer(parseAnswer(line));
        }
      }
      if (buffered.trim()) onAnswer(parseAnswer(buffered.trim()));
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

function parseAnswer(line: string): DeliveryAnswer {
  const raw = JSON.parse(line) as Omit<DeliveryAnswer, 'result'> & { result?: string };
  return { ...raw, result: typeof raw.result === 'string' ? Buffer.from(raw.result, 'base64') : undefined };
}
