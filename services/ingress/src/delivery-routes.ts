import { timingSafeEqual } from 'node:crypto';
import { Router, json, type RequestHandler } from 'express';
import { OutboundError, phyIdSchema, parseOrThrow, validationError, type ErrorCode } from '@outbound/core/command';
import {
  DELIVERY_BATCH_PATH, DELIVERY_TIMING_HEADER, DEVICE_DELIVER_ROUTE, checkDeliveryBatch, checkDeliveryItem, encodeAnswerLine, hostClockMs,
  type DeliveryAnswer, type DeliveryHopTimes, type DeliveryItem,
} from '@outbound/core/delivery';
import { COMMAND_ID_BYTES } from '@outbound/core/protocol';
import { closeIfBodyUnread } from '@outbound/core/service';
import type { DeliveryTracker } from './delivery-tracker';
import { TurnBuffer } from './turn-buffer';

/**
 * Whether an `Authorization` header is `Bearer <INTERNAL_TOKEN>`, compared in constant time:
 * the one check of the internal token, for the delivery endpoints and the delivery stream.
 */
export function internalTokenCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  return (authorization) => {
    const given = Buffer.from(authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/**
 * `Authorization: Bearer <INTERNAL_TOKEN>`, compared in constant time; 401 JSON otherwise.
 * It runs before the body parser, and the 401 closes the connection so the body is never read.
 */
export function requireInternalToken(token: string): RequestHandler {
  const authorized = internalTokenCheck(token);
  return (req, res, next) => {
    if (authorized(req.headers.authorization)) {
      next();
      return;
    }
    closeIfBodyUnread(req, res);
    next(new OutboundError('UNAUTHORIZED', 'send the internal token as "Authorization: Bearer <INTERNAL_TOKEN>"'));
  };
}

/** Hands on one answer line's parts; `checked`: id and phyId passed checkDeliveryItem (the line needs no escaping). */
export type EmitAnswer = (id: unknown, phyId: unknown, answer: DeliveryAnswer, checked: boolean) => void;

/**
 * The items of one batch (a batch call's or a stream line's), each checked on its own: one that
 * fails is answered at once with its 400, the others when their device answers, stamped with hop
 * times when `receivedAt` is set. `traceparent` names the trace of items that carry none.
 */
export function deliverItems(
  tracker: DeliveryTracker,
  items: readonly unknown[],
  options: { maxPayloadBytes: number; receivedAt: number; traceparent?: string },
  emit: EmitAnswer,
): void {
  const { maxPayloadBytes, receivedAt, traceparent } = options;
  for (let i = 0; i < items.length; i++) {
    const raw = items[i] as Record<string, unknown> | null;
    const checked = checkDeliveryItem(raw, maxPayloadBytes, ['deliveries', i]);
    if ('issues' in checked) {
      const error = validationError(checked.issues, 'delivery');
      emit(raw?.id, raw?.phyId, { status: error.status, error: { code: error.code, message: error.message } }, false);
      continue;
    }
    const item = traceparent && !checked.item.traceparent ? { ...checked.item, traceparent } : checked.item;
    deliverOne(tracker, item, raw!.id, receivedAt, emit);
  }
}

/** Items already checked (readCanonicalBatch), each answered as deliverItems answers it. */
export function deliverCheckedItems(tracker: DeliveryTracker, items: readonly DeliveryItem[], receivedAt: number, emit: EmitAnswer): void {
  for (let i = 0; i < items.length; i++) deliverOne(tracker, items[i], items[i].id, receivedAt, emit);
}

/** Hands `item` to the tracker; its answer names the delivery by `id` as the caller sent it. */
function deliverOne(tracker: DeliveryTracker, item: DeliveryItem, id: unknown, receivedAt: number, emit: EmitAnswer): void {
  const times: DeliveryHopTimes | undefined = receivedAt ? { received: receivedAt, answered: 0 } : undefined;
  tracker.deliverTo(item, times, (answer) => {
    if (times) times.answered = hostClockMs();
    emit(id, item.phyId, times ? { ...answer, t: times } : answer, true);
  });
}

/**
 * The internal delivery API the dispatchers call:
 * `POST /internal/v1/devices/:phyId/deliver` (one, answered as JSON) and
 * `POST /internal/v1/deliveries` (up to 1000 for any devices, answered as streamed NDJSON,
 * one line per delivery the moment it is answered, so a slow device delays nobody else).
 */
export function deliveryRoutes(options: { tracker: DeliveryTracker; internalToken: string; bodyLimitBytes: number; maxFrameBytes: number }): Router {
  const router = Router();
  const maxPayloadBytes = Math.max(0, options.maxFrameBytes - COMMAND_ID_BYTES);
  router.use('/internal', requireInternalToken(options.internalToken), json({ limit: options.bodyLimitBytes }));

  router.post(DEVICE_DELIVER_ROUTE, async (req, res) => {
    const phyId = parseOrThrow(phyIdSchema, req.params.phyId, ['phyId']);
    const checked = checkDeliveryItem(req.body, maxPayloadBytes, [], phyId);
    if ('issues' in checked) throw validationError(checked.issues);
    const header = req.get('traceparent');
    // The W3C header names the trace when the item carries none of its own.
    const answer = await options.tracker.deliver(header && !checked.item.traceparent ? { ...checked.item, traceparent: header } : checked.item);
    if ('outcome' in answer) res.json({ outcome: answer.outcome, result: answer.result.length ? answer.result.toString('base64') : '', latencyMs: answer.latencyMs });
    else throw new OutboundError(answer.error.code as ErrorCode, answer.error.message);
  });

  router.post(DELIVERY_BATCH_PATH, (req, res) => {
    const received = req.headers[DELIVERY_TIMING_HEADER] === '1' ? hostClockMs() : 0;
    const envelope = checkDeliveryBatch(req.body);
    if ('issues' in envelope) throw validationError(envelope.issues);
    const deliveries = envelope.items;
    // A call carrying one delivery may name its trace in the W3C header (a delivery's own field wins).
    const single = deliveries.length === 1 ? req.get('traceparent') : undefined;
    req.socket.setNoDelay(true);
    res.status(200).set({ 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store, no-transform', 'X-Accel-Buffering': 'no' });
    let open = deliveries.length;
    // The headers leave with the first lines, and a batch answered within one turn is one write
    // (headers, body and end).
    const answers = new TurnBuffer((text) => {
      if (open === 0) res.end(text);
      else if (text) res.write(text);
    });
    const emit: EmitAnswer = (id, phyId, answer, checked) => {
      open--;
      answers.add(encodeAnswerLine(id, phyId, answer, checked));
    };
    deliverItems(options.tracker, deliveries, { maxPayloadBytes, receivedAt: received, traceparent: single }, emit);
  });
  return router;
}
