import type { OutboundEvent } from '@outbound/core';

/** An event as the API shows it (timeline, live stream, webhook body): without a reader's cursor. */
export function eventView(event: OutboundEvent): OutboundEvent {
  return {
    id: event.id, type: event.type, time: event.time,
    ...(event.commandId === undefined ? {} : { commandId: event.commandId }),
    phyId: event.phyId,
    ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
    details: event.details,
  };
}
