import type { Pool } from 'pg';
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
  maxInFlightPerDevice: number;
  perDeviceCap: number;
  globalCap: number;
  retentionMs: number;
  backoff: { baseMs: number; maxMs: number; jitter: number };
}

export function queueContext(pool: Pool, schema: SchemaName, options: QueueOptions): QueueContext {
  return {
    pool,
    schema,
    commands: `${schema.quoted}.commands`,
    devices: `${schema.quoted}.devices`,
    maxInFlightPerDevice: options.maxInFlightPerDevice ?? QUEUE_DEFAULTS.maxInFlightPerDevice,
    perDeviceCap: options.perDeviceCap ?? QUEUE_DEFAULTS.perDeviceCap,
    globalCap: options.globalCap ?? QUEUE_DEFAULTS.globalCap,
    retentionMs: options.retentionMs ?? QUEUE_DEFAULTS.retentionMs,
    backoff: {
      baseMs: options.backoff?.baseMs ?? QUEUE_DEFAULTS.backoff.baseMs,
      maxMs: options.backoff?.maxMs ?? QUEUE_DEFAULTS.backoff.maxMs,
      jitter: options.backoff?.jitter ?? QUEUE_DEFAULTS.backoff.jitter,
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids that are not UUIDs can name no command; filter them before a `::uuid[]` cast fails the whole batch. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
