import { randomUUID } from 'node:crypto';
import type { Pool, QueryConfig } from 'pg';
import { fnv1a32 } from '../redis/keys';
import { QUEUE_DEFAULTS, type QueueOptions } from '../queue';
import type { SchemaName } from './schema-name';

/** What every PostgreSQL queue operation needs: the pool, the schema, and resolved limits. */
export interface QueueContext {
  pool: Pool;
  schema: SchemaName;
  /** `"schema".commands` */
  commands: string;
  /** `"schema".devices` */
  devices: string;
  /** `"schema".events`, the event log (event-log.ts) */
  events: string;
  /** `"schema".event_type`, the enum of event types */
  eventType: string;
  /** The Redis shard count ids are minted for (see commandIdFor). */
  shards: number;
  maxInFlightPerDevice: number;
  perDeviceCap: number;
  globalCap: number;
  retentionMs: number;
  backoff: { baseMs: number; maxMs: number; jitter: number };
  /** Called after a commit that made work claimable (CommitNotifier.notify). */
  workReady: () => void;
  /** Called after a commit that logged events: wakes readers waiting at the log's end. */
  eventsLogged: () => void;
  /** The global cap's last exact count and when it was read, plus what this process enqueued since (enqueue.ts). */
  pendingCount: { value: number; at: number } | null;
}

export function queueContext(pool: Pool, schema: SchemaName, options: QueueOptions): QueueContext {
  return {
    pool,
    schema,
    commands: `${schema.quoted}.commands`,
    devices: `${schema.quoted}.devices`,
    events: `${schema.quoted}.events`,
    eventType: `${schema.quoted}.event_type`,
    shards: options.shards ?? QUEUE_DEFAULTS.shards,
    maxInFlightPerDevice: options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice,
    perDeviceCap: options.perDeviceCap ?? QUEUE_DEFAULTS.perDeviceCap,
    globalCap: options.globalCap ?? QUEUE_DEFAULTS.globalCap,
    retentionMs: options.retentionMs ?? QUEUE_DEFAULTS.retentionMs,
    backoff: {
      baseMs: options.backoff?.baseMs ?? QUEUE_DEFAULTS.backoff.baseMs,
      maxMs: options.backoff?.maxMs ?? QUEUE_DEFAULTS.backoff.maxMs,
      jitter: options.backoff?.jitter ?? QUEUE_DEFAULTS.backoff.jitter,
    },
    workReady: () => undefined,
    eventsLogged: () => undefined,
    pendingCount: null,
  };
}

/**
 * A command id in the Redis backend's layout: a UUID whose first 4 hex digits are the device's
 * Redis shard. PostgreSQL does not need it, but `outbound migrate-queue --to redis` keeps ids,
 * and Redis finds a command by the shard in its id.
 */
export function commandIdFor(phyId: string, shards: number): string {
  return (fnv1a32(phyId) % shards).toString(16).padStart(4, '0') + randomUUID().slice(4);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids that are not UUIDs can name no command; filter them before a `::uuid[]` cast fails the whole batch. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * A named (prepared) statement: parsed once per connection, and once PostgreSQL settles on its
 * generic plan (after five calls) planned once per connection too, where an unnamed one is
 * parsed and planned on every call. One name per text (the text names the schema), short enough
 * for PostgreSQL's 63 bytes.
 */
export function named(kind: string, text: string, values: unknown[]): QueryConfig {
  return prepared(kind, text)(values);
}

/** `named` for a text fixed when its owner is built: the name is worked out once, not per call. */
export function prepared(kind: string, text: string): (values?: unknown[]) => QueryConfig {
  const name = statementName(kind, text);
  return (values = []) => ({ name, text, values });
}

export function statementName(kind: string, text: string): string {
  return `outbound_${kind}_${fnv1a32(text).toString(16)}`;
}
