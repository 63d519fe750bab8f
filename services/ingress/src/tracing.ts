import { SpanKind, SpanStatusCode, type Span, type Tracing } from '@outbound/core/service';
import type { DeliveryAnswer } from '@outbound/core/delivery';
import type { DeliveryRequest } from './delivery-tracker';

/**
 * The ingress's span of one delivery, in the trace of the dispatcher's attempt (the traceparent
 * sent with the delivery): from the request to the device's answer, with an event when the
 * COMMAND frame was written to the device's socket (or joined a send already waiting), and the
 * outcome as attributes. A delivery sent without a traceparent gets no span.
 */
export class DeviceSpans {
  constructor(private readonly tracing: Tracing, private readonly replicaId: string) {}

  start(request: DeliveryRequest): Span | undefined {
    if (!request.traceparent) return undefined;
    return this.tracing.startSpan('outbound.device.deliver', {
      parent: request.traceparent,
      kind: SpanKind.SERVER,
      attributes: { 'outbound.command_id': request.id, 'outbound.phy_id': request.phyId, 'outbound.replica_id': this.replicaId },
    });
  }

  /** The COMMAND frame left for the device's socket (`joined`: an identical send was already waiting for its ACK). */
  written(span: Span, joined: boolean): void {
    span.addEvent(joined ? 'joined the delivery already waiting' : 'command written to the device socket');
  }

  /** The device's ACK (or why there is none) ends the span. */
  answered(span: Span, answer: DeliveryAnswer): DeliveryAnswer {
    if ('outcome' in answer) {
      span.addEvent('ack received', { 'outbound.ack': answer.outcome });
      span.setAttributes({ 'outbound.outcome': answer.outcome, 'outbound.ack_latency_ms': answer.latencyMs });
      if (answer.outcome === 'busy') span.setStatus({ code: SpanStatusCode.ERROR, message: 'busy' });
    } else {
      span.setAttributes({ 'outbound.outcome': answer.error.code.toLowerCase() });
      span.setStatus({ code: SpanStatusCode.ERROR, message: answer.error.code });
    }
    span.end();
    return answer;
  }
}
