import { OutboundError } from '../errors';

/**
 * The event log: one entry per transition, written by the store in the same atomic step as the
 * transition itself (inside the Redis script, inside the PostgreSQL transaction), so an event
 * exists exactly when its transition happened. Timelines, the live stream (SSE) and webhooks
 * all read it.
 */

export const COMMAND_EVENT_TYPES = [
  'command.queued',
  'command.delivered',
  'command.retrying',
  'command.acked',
  'command.rejected',
  'command.dead',
  'command.expired',
  'command.cancelled',
] as const;
export const DEVICE_EVENT_TYPES = ['device.online', 'device.offline'] as const;
export const EVENT_TYPES = [...COMMAND_EVENT_TYPES, ...DEVICE_EVENT_TYPES] as const;

export type CommandEventType = (typeof COMMAND_EVENT_TYPES)[number];
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];

/** Details an event may carry, by type (all optional: a store writes what it knows). */
export interface EventDetails {
  /** command.delivered: the ingress replica that wrote it to the device. */
  replica?: string;
  /** command.retrying, command.dead, command.rejected: why (the device's error text or our reason). */
  reason?: string;
  /** command.retrying: when the next attempt may go (epoch ms, store clock). */
  retryAt?: number;
  /** command.queued: the command's priority. */
  priority?: number;
}

export interface OutboundEvent {
  /**
   * Unique and stable (webhooks send it as `webhook-id`), ordered within the store's shard:
   * Redis `<shard>-<streamId>`, PostgreSQL a number.
   */
  id: string;
  type: EventType;
  /** Store clock, epoch ms. */
  time: number;
  /** Absent on device events. */
  commandId?: string;
  phyId: string;
  /** The attempt the event belongs to (1-based), when it belongs to one. */
  attempt?: number;
  details: EventDetails;
}

/** An event as the log hands it to a reader: with the position just after it. */
export interface LoggedEvent extends OutboundEvent {
  /**
   * Opaque, printable (no spaces, no newlines, at most 1,024 characters): `readEvents({ after })`
   * with it resumes right after this event, missing none and repeating none, within retention.
   * The live stream sends it as the SSE `id:` line.
   */
  cursor: string;
}

export interface ReadEventsOptions {
  /** null: from the oldest event retained. A cursor from `LoggedEvent.cursor`, a page or `eventsHead()`. */
  after: string | null;
  /** At most this many events (default 100, at most 1,000). */
  limit?: number;
  /** When nothing is after the cursor, wait up to this long for an event before answering empty. */
  waitMs?: number;
  signal?: AbortSignal;
}

/** `ReadEventsOptions.limit` as a store applies it: default 100, 1 to 1,000. */
export function eventPageLimit(limit: number | undefined): number {
  return Math.min(1_000, Math.max(1, Math.trunc(limit ?? 100)));
}

/** What a store answers for an `after` it did not hand out (or from another store or shard count). */
export function badEventCursor(): OutboundError {
  return new OutboundError('VALIDATION_FAILED', 'after: not a cursor of this event log (use one it answered)');
}

export interface EventPage {
  events: LoggedEvent[];
  /** Where the next read starts (after the last event here, or unchanged when empty). */
  cursor: string;
}

/** Reading the event log; every store implements it. */
export interface EventLog {
  /**
   * Events after the cursor in log order (per shard in transition order; shards interleaved by
   * time as well as the store can). A cursor older than retention reads from the oldest event
   * retained (the caller may have missed events; `EventPage` does not say so).
   */
  readEvents(options: ReadEventsOptions): Promise<EventPage>;
  /** The position at the log's end now: reading after it answers only events written later. */
  eventsHead(): Promise<string>;
  /** One command's events in order, read in time proportional to its own events; null when the command is unknown. */
  commandEvents(id: string): Promise<OutboundEvent[] | null>;
}
