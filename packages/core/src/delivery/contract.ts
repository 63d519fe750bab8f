import type { ErrorCode } from '../errors';

/**
 * The internal delivery contract between dispatchers and ingress replicas, written once:
 * the dispatcher sends `POST DELIVERY_BATCH_PATH` with `{ "deliveries": [DeliveryItemWire...] }`
 * and reads one NDJSON line (`DeliveryAnswerLineWire`) per delivery, in the order the devices
 * answer. docs/architecture.md, "Internal delivery API", describes it for operators.
 */

/** Batch endpoint: up to DELIVERY_BATCH_MAX deliveries to any devices the replica holds. */
export const DELIVERY_BATCH_PATH = '/internal/v1/deliveries';
/** Single-delivery endpoint (express route pattern): one command, answered as plain JSON. */
export const DEVICE_DELIVER_ROUTE = '/internal/v1/devices/:phyId/deliver';
/** Most deliveries in one batch call. */
export const DELIVERY_BATCH_MAX = 1_000;
/** Longest ACK wait one delivery may ask for. */
export const DELIVERY_ACK_TIMEOUT_MAX_MS = 300_000;
/**
 * Request header that asks the ingress to stamp each answer line with its own timestamps
 * (`t`, see DeliveryHopTimes); sent only when the dispatcher measures per-hop latency.
 */
export const DELIVERY_TIMING_HEADER = 'x-outbound-hop-timing';

/**
 * Delivery stream: `GET DELIVERY_STREAM_PATH` with `Connection: Upgrade`,
 * `Upgrade: DELIVERY_STREAM_PROTOCOL` and the same bearer token. The ingress answers
 * `101 Switching Protocols` and from then on both sides write NDJSON lines on the connection:
 * the dispatcher one `DeliveryStreamBatchWire` per batch, numbered by it (`s`), the ingress one
 * `DeliveryStreamAnswerWire` per delivery, tagged with its batch's `s`, in the order devices
 * answer (batches interleave). A line the ingress cannot read is answered by one
 * `DeliveryStreamAnswerWire` with `id: null` and a 400 error, and the ingress closes the stream.
 * Any other answer than 101 (an ingress without the stream) means: use the batch endpoint.
 */
export const DELIVERY_STREAM_PATH = '/internal/v1/delivery-stream';
/** The `Upgrade` token of the delivery stream. */
export const DELIVERY_STREAM_PROTOCOL = 'outbound-delivery/1';

/** What a device answered in its ACK. */
export type DeliveryOutcomeName = 'ok' | 'rejected' | 'busy';

/** One delivery, decoded (what the dispatcher sends and the ingress acts on). */
export interface DeliveryItem {
  phyId: string;
  /** Command id, a lower-case UUID. */
  id: string;
  payload: Buffer;
  ackTimeoutMs: number;
  /** The route epoch the dispatcher read: an ingress holding another connection refuses it. */
  epoch?: number;
  /** W3C traceparent of the attempt (tracing on): the ingress's span for this delivery continues it. */
  traceparent?: string;
}

/** One delivery as JSON carries it. */
export interface DeliveryItemWire {
  phyId: string;
  id: string;
  /** base64 */
  payload: string;
  ackTimeoutMs: number;
  epoch?: number;
  traceparent?: string;
}

/**
 * Ingress timestamps for one delivery, ms on this host's clock (`performance.timeOrigin +
 * performance.now()`, the same in every process of one host): request parsed, COMMAND
 * written to the socket, ACK read, answer line handed to the HTTP response.
 */
export interface DeliveryHopTimes {
  received: number;
  written?: number;
  acked?: number;
  answered: number;
}

/** The answer to one delivery: the device's ACK, or why there is none. */
export type DeliveryAnswer =
  | { status: 200; outcome: DeliveryOutcomeName; result: Buffer; latencyMs: number; t?: DeliveryHopTimes }
  | { status: number; error: { code: ErrorCode | string; message: string }; t?: DeliveryHopTimes };

/** One NDJSON line, decoded: the answer and which delivery it is for (null: the item had no usable id). */
export type DeliveryAnswerLine = DeliveryAnswer & { id: string | null; phyId: string | null };

/** One NDJSON line as JSON carries it (`result` in base64, '' when the ACK carried none). */
export type DeliveryAnswerLineWire =
  | { id: string | null; phyId: string | null; status: 200; outcome: DeliveryOutcomeName; result: string; latencyMs: number; t?: DeliveryHopTimes }
  | { id: string | null; phyId: string | null; status: number; error: { code: string; message: string }; t?: DeliveryHopTimes };

/** This host's clock in ms with sub-ms precision, comparable between processes of one host. */
export function hostClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * One batch on the delivery stream: its number (chosen by the sender, unique among its batches
 * in flight on the stream), whether to stamp answer lines with hop times (the batch endpoint's
 * DELIVERY_TIMING_HEADER), and 1..DELIVERY_BATCH_MAX deliveries.
 */
export interface DeliveryStreamBatchWire {
  s: number;
  timing?: boolean;
  deliveries: DeliveryItemWire[];
}

/** One answer line on the delivery stream: the batch endpoint's line and its batch's number (null: the line named none). */
export type DeliveryStreamAnswerWire = DeliveryAnswerLineWire & { s: number | null };

/** One answer line on the delivery stream, decoded. */
export type DeliveryStreamAnswer = DeliveryAnswerLine & { s: number | null };
