import type { Express, Request, RequestHandler, Response } from 'express';
import {
  OutboundError, fastEnqueueBody, isOutboundError, parseEnqueueBody, parseEnqueueBodyWithSchema, parseOrThrow, toCommandView, TERMINAL_STATUSES, validationError,
  type EnqueueInput, type StoredCommand,
} from '@outbound/core/command';
import type { RouteRegistry } from '@outbound/core/registry';
import type { CommandQueue, EnqueueResult } from '@outbound/core/queue';
import { requestLogger, retryAfterSeconds, type Logger, type Span, type Tracing } from '@outbound/core/service';
import type { CompletionWaiter } from './completion-waiter';
import type { HopTimer } from './hop-timer';
import type { DispatcherMetrics } from './metrics';
import type { TransitionLog } from './transition-log';
import { batchEnvelopeSchema, historyQuery, idempotencyHeaders, waitQuerySchema } from './schemas/commands';
import { commandIdParams } from './schemas/common';
import type { HotRoutes } from './hot-routes';
import { commandContext, startEnqueueSpan, traceFields } from './tracing';

export interface CommandRoutesDeps {
  queue: CommandQueue;
  /** Where enqueues go: the queue's own enqueue calls, or an EnqueueCoalescer sharing them between requests. */
  enqueuer: Pick<CommandQueue, 'enqueue' | 'enqueueBatch'>;
  waiter: CompletionWaiter;
  /** Where devices are connected: an enqueue with `offline: "reject"` is refused when its device has no route. */
  registry: Pick<RouteRegistry, 'lookupMany'>;
  metrics: DispatcherMetrics;
  maxWaitMs: number;
  batchMax: number;
  /** Runs before each route (authentication with the `send` role). */
  guard: RequestHandler;
  /** Where each accepted command's first line goes (with the request id: requestLogger). */
  transitions: TransitionLog;
  logger: Logger;
  /** Each enqueue gets a span, and each command the traceparent its deliveries continue (tracing on). */
  tracing?: Tracing;
  /** Per-hop timing (DISPATCHER_HOP_TIMING): each enqueue request answered without a wait is split into enqueue_api, enqueue_store and enqueue_answer. */
  hops?: HopTimer;
}

/**
 * Writes an enqueue's JSON answer straight out. res.json goes through res.send, which hashes
 * every body for an ETag (an enqueue is a POST: nothing ever revalidates its answer, and no
 * enqueue answer carries one) and sets the content type through a lookup on every call.
 */
function sendEnqueueAnswer(res: Response, status: number, json: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/** Observes an enqueue request's hops once its answer is handed to the socket (`receivedAt`: the app's first middleware). */
function timeEnqueue(hops: HopTimer, res: Response, storeAt: number, storedAt: number): void {
  const receivedAt = res.locals.receivedAt as number | undefined;
  if (receivedAt !== undefined) hops.observe('enqueue_api', storeAt - receivedAt);
  hops.observe('enqueue_store', storedAt - storeAt);
  hops.observe('enqueue_answer', hops.now() - storedAt);
}

/**
 * An accepted batch item's JSON, `JSON.stringify({ index, id, status, duplicate })` written out:
 * the id is the store's (hex digits and dashes) and the status a status name, neither needing
 * escapes. An object per item and the stringify of 500 of them cost 0.2 µs per command; this 0.04.
 */
function acceptedJson(index: number, answer: EnqueueResult): string {
  return `{"index":${index},"id":"${answer.id}","status":"${answer.status}","duplicate":${answer.duplicate}}`;
}

function deviceOffline(phyId: string): OutboundError {
  return new OutboundError('DEVICE_OFFLINE', `device ${phyId} has no live connection and the command asked offline: "reject"; nothing was stored`, { details: { phyId } });
}

const NO_DEVICES: ReadonlySet<string> = new Set();

/** The devices of `phyIds` that have no live route now. */
async function offlineDevices(registry: Pick<RouteRegistry, 'lookupMany'>, phyIds: ReadonlySet<string>): Promise<ReadonlySet<string>> {
  if (phyIds.size === 0) return NO_DEVICES;
  const asked = [...phyIds];
  const routes = await registry.lookupMany(asked);
  return new Set(asked.filter((phyId) => !routes.has(phyId)));
}

/**
 * A batch body of the usual shape (`{commands: [...]}` within the size limit) as it is; undefined
 * for anything else, which the envelope schema then judges and names. The schema copies the
 * array item by item; its items are each checked on their own afterwards anyway.
 */
function plainEnvelope(body: unknown, batchMax: number): { commands: unknown[] } | undefined {
  if (typeof body !== 'object' || body === null || Object.getPrototypeOf(body) !== Object.prototype) return undefined;
  const { commands } = body as { commands?: unknown };
  if (!Array.isArray(commands) || commands.length < 1 || commands.length > batchMax) return undefined;
  for (const key in body) if (key !== 'commands') return undefined;
  return { commands };
}

/**
 * The body with the `Idempotency-Key` header folded in: the header and the body's
 * `idempotencyKey` name the same thing, so either may carry it; both, differing, is a 400.
 */
function withIdempotencyHeader(req: Request): unknown {
  const header = req.get('Idempotency-Key');
  if (header === undefined) return req.body;
  const key = parseOrThrow(idempotencyHeaders.shape['Idempotency-Key'], header, ['headers', 'idempotency-key']);
  const body = req.body as Record<string, unknown> | undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  if (body.idempotencyKey !== undefined && body.idempotencyKey !== key) {
    throw validationError([{ path: 'headers.idempotency-key', message: 'differs from the body\'s idempotencyKey; send one, or the same in both' }]);
  }
  return { ...body, idempotencyKey: key };
}

/** The enqueue of a traced request: the span names the command and ends with the store call. */
async function tracedEnqueue(enqueuer: CommandRoutesDeps['enqueuer'], input: EnqueueInput, span: Span): Promise<EnqueueResult> {
  try {
    const result = await enqueuer.enqueue(input, { checked: true });
    span.setAttribute('outbound.command_id', result.id);
    return result;
  } finally {
    span.end();
  }
}

/** Aborts when the caller hangs up, so a long-poll stops reading the store for nobody. */
function callerGone(req: Request): AbortSignal {
  const controller = new AbortController();
  req.once('close', () => controller.abort());
  return controller.signal;
}

/**
 * POST /v1/commands, POST /v1/commands/batch, GET /v1/commands (history), GET and DELETE /v1/commands/:id.
 * Enqueue answers 202 `{id, status, duplicate}`; with `?waitMs` it holds the answer until the
 * command is terminal (200 with the full command) or the wait passes (202 with the full command).
 */
export function registerCommandRoutes(app: Express, deps: CommandRoutesDeps): HotRoutes {
  const { queue, waiter, metrics } = deps;
  const waitQuery = waitQuerySchema(deps.maxWaitMs);
  // Built once: a zod schema costs far more to build than to run (5% of the API's CPU when built per request).
  const batchEnvelope = batchEnvelopeSchema(deps.batchMax);
  const read = (id: string) => () => queue.get(id);
  // With info lines off, an accepted command's line is neither sampled nor built.
  const infoOn = () => deps.logger.isLevelEnabled('info');
  const answerCommand = (command: StoredCommand, extra: Record<string, unknown> = {}) => ({
    status: TERMINAL_STATUSES.has(command.status) ? 200 : 202,
    body: { ...toCommandView(command), ...extra },
  });

  const enqueueOne = async (req: Request, res: Response): Promise<void> => {
    const { waitMs } = parseOrThrow(waitQuery, req.query, ['query']);
    const parsed = parseEnqueueBody(withIdempotencyHeader(req));
    const { input } = parsed;
    // Only offline: "reject" asks the registry (and waits a turn for it).
    if (parsed.offline === 'reject' && (await offlineDevices(deps.registry, new Set([input.phyId]))).has(input.phyId)) throw deviceOffline(input.phyId);
    const span = startEnqueueSpan(deps.tracing, res, 1);
    // Only a sampled trace is continued: an unsampled command is stored and delivered untraced.
    // The caller's own request id rides along, so the command's later transition lines carry it.
    const context = commandContext(span?.isRecording() ? deps.tracing!.traceparentOf(span) : undefined, callerRequestId(req));
    if (context) input.traceContext = context;
    const storeAt = deps.hops?.now() ?? 0;
    // The input is as parseEnqueueBody answered it, with our own trace context: not checked twice.
    const result = span ? await tracedEnqueue(deps.enqueuer, input, span) : await deps.enqueuer.enqueue(input, { checked: true });
    const storedAt = deps.hops?.now() ?? 0;
    if (!result.duplicate) metrics.enqueued.inc({ source: 'single' });
    if (infoOn()) {
      deps.transitions.success(() => requestLogger(req, deps.logger), () => ({ commandId: result.id, phyId: input.phyId, attempt: 0, status: result.status, duplicate: result.duplicate, ...traceFields(input.traceContext) }), 'command accepted');
    }
    if (!waitMs) {
      sendEnqueueAnswer(res, 202, JSON.stringify({ id: result.id, status: result.status, duplicate: result.duplicate }));
      if (deps.hops) timeEnqueue(deps.hops, res, storeAt, storedAt);
      return;
    }
    const command = await waiter.waitForTerminal(result.id, waitMs, read(result.id), callerGone(req));
    if (!command) throw new OutboundError('COMMAND_NOT_FOUND', `command ${result.id} is gone (retention passed)`);
    const answer = answerCommand(command, { duplicate: result.duplicate });
    res.status(answer.status).json(answer.body);
  };

  const enqueueMany = async (req: Request, res: Response): Promise<void> => {
    // One key cannot name many commands: silently ignoring it would let a caller believe its retry is safe.
    if (req.get('Idempotency-Key') !== undefined) {
      throw validationError([{ path: 'headers.idempotency-key', message: 'a batch takes no Idempotency-Key header; give each command its idempotencyKey' }]);
    }
    const { waitMs } = parseOrThrow(waitQuery, req.query, ['query']);
    const envelope = plainEnvelope(req.body, deps.batchMax) ?? parseOrThrow(batchEnvelope, req.body);
    // Each item is validated alone: one bad item answers an error in its slot and the rest go ahead.
    // Each slot holds its item's JSON text (acceptedJson): the answer is joined from them.
    const { commands } = envelope;
    const results: string[] = new Array(commands.length);
    // The items that passed, side by side: their inputs (the store call's) and their slots. No
    // object per item: a batch route's per-command allocations are most of what it adds.
    let inputs: EnqueueInput[] = [];
    let slots: number[] = [];
    // Positions in `inputs` of the items that ask offline "reject" (their devices are looked up).
    const rejecting: number[] = [];
    for (let index = 0; index < commands.length; index++) {
      const item = commands[index];
      try {
        // The schema (with the item's path for its refusals) only for what the fast check does not take.
        const body = fastEnqueueBody(item) ?? parseEnqueueBodyWithSchema(item, ['commands', index]);
        if (body.offline === 'reject') rejecting.push(inputs.length);
        inputs.push(body.input);
        slots.push(index);
      } catch (error) {
        if (!isOutboundError(error)) throw error;
        results[index] = JSON.stringify({ index, ...error.toJSON() });
      }
    }
    if (rejecting.length > 0) {
      const offline = await offlineDevices(deps.registry, new Set(rejecting.map((at) => inputs[at]!.phyId)));
      const refused = new Set(rejecting.filter((at) => offline.has(inputs[at]!.phyId)));
      if (refused.size > 0) {
        for (const at of refused) results[slots[at]!] = JSON.stringify({ index: slots[at]!, ...deviceOffline(inputs[at]!.phyId).toJSON() });
        inputs = inputs.filter((_, at) => !refused.has(at));
        slots = slots.filter((_, at) => !refused.has(at));
      }
    }
    let accepted = 0;
    let enqueued = 0;
    let storeAt = 0;
    let storedAt = 0;
    const storeFailures: OutboundError[] = [];
    const acceptedItems: Array<{ index: number; id: string; duplicate: boolean }> = [];
    if (inputs.length > 0) {
      const span = startEnqueueSpan(deps.tracing, res, inputs.length);
      const traceContext = commandContext(span?.isRecording() ? deps.tracing!.traceparentOf(span) : undefined, callerRequestId(req));
      if (traceContext) for (const input of inputs) input.traceContext = traceContext;
      storeAt = deps.hops?.now() ?? 0;
      const answers = await deps.enqueuer.enqueueBatch(inputs, { checked: true }).finally(() => span?.end());
      storedAt = deps.hops?.now() ?? 0;
      const logAccepted = infoOn();
      answers.forEach((answer, i) => {
        const index = slots[i]!;
        if (answer instanceof OutboundError) {
          results[index] = JSON.stringify({ index, ...answer.toJSON() });
          storeFailures.push(answer);
        } else {
          accepted += 1;
          if (!answer.duplicate) enqueued += 1;
          if (logAccepted) {
            deps.transitions.success(() => requestLogger(req, deps.logger), () => ({ commandId: answer.id, phyId: inputs[i]!.phyId, attempt: 0, status: answer.status, duplicate: answer.duplicate, ...traceFields(traceContext) }), 'command accepted');
          }
          results[index] = acceptedJson(index, answer);
          if (waitMs) acceptedItems.push({ index, id: answer.id, duplicate: answer.duplicate });
        }
      });
      // One bump per request: each labelled inc looks its series up again.
      if (enqueued > 0) metrics.enqueued.inc({ source: 'batch' }, enqueued);
    }
    if (waitMs) {
      // Every accepted command is waited for at once, to the same deadline: each item answers
      // the whole command as last read (terminal, or where it stands when the wait ran out).
      const gone = callerGone(req);
      await Promise.all(
        acceptedItems.map(async ({ index, id, duplicate }) => {
          const command = await waiter.waitForTerminal(id, waitMs, read(id), gone);
          if (command) results[index] = JSON.stringify({ index, ...toCommandView(command), duplicate });
        }),
      );
    }
    // Items the store could not take (or whose outcome is unknown) say when to try again.
    const retryAfter = Math.max(0, ...storeFailures.map((e) => retryAfterSeconds(e) ?? 0));
    if (retryAfter > 0) res.set('Retry-After', String(retryAfter));
    sendEnqueueAnswer(res, 200, `{"accepted":${accepted},"failed":${commands.length - accepted},"results":[${results.join(',')}]}`);
    if (deps.hops && !waitMs && inputs.length > 0) timeEnqueue(deps.hops, res, storeAt, storedAt);
  };
  // One table for both ways in: the router's, and the walk-free one (hot-routes.ts), with the same handlers.
  const enqueueRoutes: HotRoutes = new Map([
    ['/v1/commands', [deps.guard, enqueueOne]],
    ['/v1/commands/batch', [deps.guard, enqueueMany]],
  ]);
  for (const [path, handlers] of enqueueRoutes) app.post(path, ...handlers);

  app.get('/v1/commands', deps.guard, async (req, res) => {
    const { limit, cursor, ...filter } = parseOrThrow(historyQuery, req.query, ['query']);
    const page = await queue.listCommands({ ...filter, limit, ...(cursor === undefined ? {} : { cursor }) });
    res.json({ items: page.items.map(toCommandView), nextCursor: page.nextCursor });
  });

  app.get('/v1/commands/:id', deps.guard, async (req, res) => {
    const { id } = parseOrThrow(commandIdParams, req.params);
    const { waitMs } = parseOrThrow(waitQuery, req.query, ['query']);
    const command = waitMs ? await waiter.waitForTerminal(id, waitMs, read(id), callerGone(req)) : await queue.get(id);
    if (!command) throw new OutboundError('COMMAND_NOT_FOUND', `no command ${id} (finished commands are kept for the retention period)`);
    res.status(200).json(toCommandView(command));
  });

  app.delete('/v1/commands/:id', deps.guard, async (req, res) => {
    const { id } = parseOrThrow(commandIdParams, req.params);
    const command = await queue.cancel(id);
    waiter.notify(id);
    res.status(200).json(toCommandView(command));
  });

  return enqueueRoutes;
}

/** The request id the caller sent (`X-Request-Id`, when it was usable and so became the request's id); undefined when the service made one up. */
function callerRequestId(req: Request): string | undefined {
  const sent = req.headers['x-request-id'];
  const id = (req as Request & { id?: unknown }).id;
  return typeof sent === 'string' && sent === id ? sent : undefined;
}
