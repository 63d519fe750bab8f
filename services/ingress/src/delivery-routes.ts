import { timingSafeEqual } from 'node:crypto';
import { Router, json, type RequestHandler } from 'express';
import { OutboundError, phyIdSchema, parseOrThrow, validationError, type ErrorCode } from '@outbound/core/command';
import {
  DELIVERY_BATCH_PATH, DELIVERY_TIMING_HEADER, DEVICE_DELIVER_ROUTE, checkDeliveryBatch, checkDeliveryItem, encodeAnswerLine, hostClockMs,
  type DeliveryAnswer, type DeliveryHopTimes,
} from '@outbound/core/delivery';
import { COMMAND_ID_BYTES } from '@outbound/core/protocol';
import { closeIfBodyUnread } from '@outbound/core/service';
import type { DeliveryTracker } from './delivery-tracker';
import { TurnBuffer } from './turn-buffer';

/**
 * `Authorization: Bearer <INTERNAL_TOKEN>`, compared in constant time; 401 JSON otherwise.
 * It runs before the body parser, and the 401 closes the connection so the body is never read.
 */
export function requireInternalToken(token: string): RequestHandler {
  const expected = Buffer.from(`Bearer ${token}`);
  return (req, res, next) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      next();
      return;
    }
    closeIfBodyUnread(req, res);
    next(new OutboundError('UNAUTHORIZED', 'send the internal token as "Authorization: Bearer <INTERNAL_TOKEN>"'));
  };
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
    /** `checked`: id and phyId passed checkDeliveryItem (the line needs no escaping). */
    const emit = (id: unknown, phyId: unknown, answer: DeliveryAnswer, checked: boolean): void => {
      if (answer.t) answer.t.answered = hostClockMs();
      open--;
      answers.add(encodeAnswerLine(id, phyId, answer, checked));
    };
    for (let i = 0; i < deliveries.length; i++) {
      const raw = deliveries[i] as Record<string, unknown> | null;
      const checked = checkDeliveryItem(raw, maxPayloadBytes, ['deliveries', i]);
      if ('issues' in checked) {
        const error = validationError(checked.issues, 'delivery');
        emit(raw?.id, raw?.phyId, { status: error.status, error: { code: error.code, message: error.message } }, false);
        continue;
      }
      const item = single && !checked.item.traceparent ? { ...checked.item, traceparent: single } : checked.item;
      const times: DeliveryHopTimes | undefined = received ? { received, answered: 0 } : undefined;
      options.tracker.deliverTo(item, times, (answer) => emit(raw!.id, item.phyId, times ? { ...answer, t: times } : answer, true));
    }
  });
  return router;
}
