import { timingSafeEqual } from 'node:crypto';
import { Router, json, type RequestHandler } from 'express';
import { z } from 'zod';
import { OutboundError, parseOrThrow, phyIdSchema, zodIssues } from '@outbound/core/command';
import { COMMAND_ID_BYTES } from '@outbound/core/protocol';
import { closeIfBodyUnread } from '@outbound/core/service';
import type { DeliveryAnswer, DeliveryRequest, DeliveryTracker } from './delivery-tracker';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const MAX_BATCH = 1_000;

function deliverySchema(maxPayloadBytes: number) {
  return z.strictObject({
    id: z.uuid({ message: 'must be a UUID' }),
    payload: z
      .string()
      .regex(BASE64, 'must be base64')
      .refine((s) => Buffer.byteLength(s, 'base64') <= maxPayloadBytes, { message: `must decode to at most ${maxPayloadBytes} bytes` }),
    ackTimeoutMs: z.number().int().min(1).max(300_000),
    epoch: z.number().int().min(1).optional(),
    traceparent: z.string().max(256).optional(),
  });
}

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

/** One NDJSON line of the batch answer. */
function line(phyId: unknown, id: unknown, answer: DeliveryAnswer | OutboundError): string {
  const head = { id: typeof id === 'string' ? id : null, phyId: typeof phyId === 'string' ? phyId : null };
  if (answer instanceof OutboundError) return `${JSON.stringify({ ...head, status: answer.status, error: { code: answer.code, message: answer.message } })}\n`;
  return `${JSON.stringify({ ...head, ...answer })}\n`;
}

/**
 * The internal delivery API the dispatchers call:
 * `POST /internal/v1/devices/:phyId/deliver` (one, answered as JSON) and
 * `POST /internal/v1/deliveries` (up to 1000 for any devices, answered as streamed NDJSON,
 * one line per delivery the moment it is answered, so a slow device delays nobody else).
 */
export function deliveryRoutes(options: { tracker: DeliveryTracker; internalToken: string; bodyLimitBytes: number; maxFrameBytes: number }): Router {
  const router = Router();
  const schema = deliverySchema(Math.max(0, options.maxFrameBytes - COMMAND_ID_BYTES));
  const batchSchema = z.strictObject({ deliveries: z.array(z.object({}).passthrough()).min(1).max(MAX_BATCH) });
  router.use('/internal', requireInternalToken(options.internalToken), json({ limit: options.bodyLimitBytes }));

  router.post('/internal/v1/devices/:phyId/deliver', async (req, res) => {
    const phyId = parseOrThrow(phyIdSchema, req.params.phyId, ['phyId']);
    const body = parseOrThrow(schema, req.body);
    const answer = await options.tracker.deliver(toRequest(phyId, body, req.get('traceparent')));
    if (answer.status === 200) res.json({ outcome: answer.outcome, result: answer.result, latencyMs: answer.latencyMs });
    else throw new OutboundError(answer.error.code, answer.error.message);
  });

  router.post('/internal/v1/deliveries', (req, res) => {
    const { deliveries } = parseOrThrow(batchSchema, req.body);
    req.socket.setNoDelay(true);
    res.status(200).set({ 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store, no-transform', 'X-Accel-Buffering': 'no' });
    let open = deliveries.length;
    // Lines answered in the same tick go out as one chunk; each tick's lines leave at once. The
    // headers leave with the first lines, and a batch answered within one tick is one write
    // (headers, body and end): a separate write for the headers, each line and the end cost a
    // socket write and a wake-up of the dispatcher each (~1 ms per batch of one on 2 shared cores).
    let buffered = '';
    let flushQueued = false;
    const flush = (): void => {
      flushQueued = false;
      const text = buffered;
      buffered = '';
      if (open === 0) res.end(text);
      else if (text) res.write(text);
    };
    const emit = (text: string): void => {
      buffered += text;
      open--;
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    };
    for (let i = 0; i < deliveries.length; i++) {
      const item = deliveries[i] as Record<string, unknown>;
      const phyId = item.phyId;
      const { phyId: _drop, ...rest } = item;
      const parsedPhyId = phyIdSchema.safeParse(phyId);
      const parsed = schema.safeParse(rest);
      if (!parsedPhyId.success || !parsed.success) {
        const issues = [
          ...(parsedPhyId.success ? [] : zodIssues(parsedPhyId.error, ['deliveries', i, 'phyId'])),
          ...(parsed.success ? [] : zodIssues(parsed.error, ['deliveries', i])),
        ];
        emit(line(phyId, item.id, new OutboundError('VALIDATION_FAILED', `invalid delivery: ${issues.map((x) => `${x.path}: ${x.message}`).join('; ')}`)));
        continue;
      }
      void options.tracker.deliver(toRequest(parsedPhyId.data, parsed.data, deliveries.length === 1 ? req.get('traceparent') : undefined)).then((answer) => emit(line(phyId, item.id, answer)));
    }
  });
  return router;
}

/** `header`: the W3C `traceparent` header, for a call carrying one delivery (a delivery's own field wins). */
function toRequest(phyId: string, body: { id: string; payload: string; ackTimeoutMs: number; epoch?: number; traceparent?: string }, header?: string): DeliveryRequest {
  return { phyId, id: body.id.toLowerCase(), payload: Buffer.from(body.payload, 'base64'), ackTimeoutMs: body.ackTimeoutMs, epoch: body.epoch, traceparent: body.traceparent ?? header };
}
