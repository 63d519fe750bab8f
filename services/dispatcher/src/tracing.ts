import type { ClaimedCommand, DeviceRoute, TransitionResult } from '@outbound/core';
import { SpanKind, SpanStatusCode, requestSpan, traceIdOf, type Span, type Tracing } from '@outbound/core/service';
import type { Response } from 'express';

/** Outcomes of an attempt that failed (the span's status is ERROR). */
const FAILED = new Set(['busy', 'ack_timeout', 'transport_error', 'error', 'lease_expired']);

/**
 * The spans of a command's delivery attempts, each in the trace of the request that enqueued
 * the command (the traceparent stored with it). Per attempt: `outbound.attempt` from the claim
 * to the recorded outcome, with the replica and the outcome as attributes; inside it
 * `outbound.claim` (the claim call) and `outbound.record` (the outcome's store write); the
 * ingress hangs its device span under the attempt through the traceparent sent with the
 * delivery. A command enqueued without a trace context gets no span.
 */
export class AttemptSpans {
  private readonly open = new Map<string, Span>();

  constructor(private readonly tracing: Tracing) {}

  /** Starts the attempt spans of a claim sent at `claimedAt` (epoch ms) that answered now. */
  claimed(commands: ClaimedCommand[], claimedAt: number): void {
    const now = Date.now();
    for (const command of commands) {
      const { traceparent } = parseCommandContext(command.traceContext);
      if (!traceparent) continue;
      const attempt = this.tracing.startSpan('outbound.attempt', {
        parent: traceparent,
        kind: SpanKind.CONSUMER,
        startTime: claimedAt,
        attributes: { 'outbound.command_id': command.id, 'outbound.phy_id': command.phyId, 'outbound.attempt': command.attempts },
      });
      if (!attempt) continue;
      this.tracing.startSpan('outbound.claim', { parent: attempt, startTime: claimedAt })?.end(now);
      this.open.set(command.id, attempt);
    }
  }

  /** Names the replica on the attempt and answers the traceparent to send with its delivery. */
  delivering(command: ClaimedCommand, route: DeviceRoute): string | undefined {
    const attempt = this.open.get(command.id);
    if (!attempt) return undefined;
    attempt.setAttributes({ 'outbound.replica_id': route.replicaId, 'outbound.replica_address': route.address });
    return this.tracing.traceparentOf(attempt);
  }

  /** Starts the outcome-recording span of a command's attempt. */
  recording(command: ClaimedCommand): Span | undefined {
    const attempt = this.open.get(command.id);
    return attempt && this.tracing.startSpan('outbound.record', { parent: attempt });
  }

  /** Ends the attempt with its outcome (`ok`, `busy`, `ack_timeout`, ...) and the store's answer. */
  recorded(command: ClaimedCommand, record: Span | undefined, outcome: string, result: TransitionResult): void {
    const attempt = this.open.get(command.id);
    if (!attempt) return;
    this.open.delete(command.id);
    const answer = result.ok ? { 'outbound.status': result.status } : { 'outbound.error_code': result.error.code };
    record?.setAttributes(answer);
    record?.end();
    attempt.setAttributes({ 'outbound.outcome': outcome, ...answer });
    if (!result.ok || FAILED.has(outcome)) attempt.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    attempt.end();
  }
}

/**
 * What the queue keeps of the request that enqueued a command (the store's `traceContext`): the
 * traceparent of its sampled trace and the caller's own `X-Request-Id`, separated by a space
 * (neither can hold one), so the transition lines of its later attempts carry both. Undefined
 * when there is neither: an untraced command without a caller's request id stores nothing.
 */
export function commandContext(traceparent: string | undefined, callerRequestId: string | undefined): string | undefined {
  if (!callerRequestId) return traceparent;
  return `${traceparent ?? ''} ${callerRequestId}`;
}

/** The two parts of a stored command context (a bare traceparent is one too). */
export function parseCommandContext(stored: string | undefined): { traceparent?: string; requestId?: string } {
  if (!stored) return {};
  const space = stored.indexOf(' ');
  if (space < 0) return { traceparent: stored };
  const traceparent = stored.slice(0, space);
  const requestId = stored.slice(space + 1);
  return { ...(traceparent ? { traceparent } : {}), ...(requestId ? { requestId } : {}) };
}

/** Log fields naming a command's trace (none when it has no trace context). */
export function traceFields(stored: string | undefined): { traceId?: string } {
  const { traceparent } = parseCommandContext(stored);
  return traceparent ? { traceId: traceIdOf(traceparent) } : {};
}

/** Log fields of a command's later transitions: its trace and the request id its caller sent. */
export function contextFields(stored: string | undefined): { traceId?: string; requestId?: string } {
  const { traceparent, requestId } = parseCommandContext(stored);
  return { ...(traceparent ? { traceId: traceIdOf(traceparent) } : {}), ...(requestId ? { requestId } : {}) };
}

/** The enqueue span of an API request (child of its request span), when tracing is on. */
export function startEnqueueSpan(tracing: Tracing | undefined, res: Response, count: number): Span | undefined {
  const parent = requestSpan(res);
  return parent && tracing?.startSpan('outbound.enqueue', { parent, kind: SpanKind.PRODUCER, attributes: { 'outbound.command_count': count } });
}
