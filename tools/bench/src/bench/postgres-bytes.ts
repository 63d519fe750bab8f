/**
 * PostgreSQL bytes per command, beside the Redis bytes of `npm run bench:layouts` (which calls
 * this in its bytes section): `pg_total_relation_size` of the commands table (heap, TOAST and
 * every index) per queued and per finished command, 32-byte and 1 KB payloads.
 *
 * A finished row is written three times (enqueue, claim, ack); until (auto)vacuum reclaims the
 * older versions the table holds them all. Three numbers per payload, then: queued (right after
 * the inserts), finished as the acks leave it, and finished after `VACUUM FULL` (the live rows
 * only, which a table kept vacuumed approaches as vacuum makes the dead space reusable).
 * Beside it the event log (table `events` with its indexes): rows and bytes per command, acks
 * naming a replica as the dispatcher's do (queued, delivered, acked: events are only inserted,
 * so vacuum does not change them).
 */
import { createPgPool, PostgresQueue, runMigrations, ValidatedQueue, type EnqueueInput } from '@outbound/core';
import { benchPgAdminUrl } from './bench-stores';

export interface PostgresBytes {
  payloadBytes: number;
  queued: number;
  finishedBeforeVacuum: number;
  finished: number;
  /** Event log rows and bytes (table and indexes) per finished command. */
  eventRows: number;
  eventBytes: number;
}

function inputs(count: number, payloadBytes: number, devices: number): EnqueueInput[] {
  return Array.from({ length: count }, (_, i) => ({
    phyId: `DEV${String(i % devices).padStart(4, '0')}`,
    payload: Buffer.alloc(payloadBytes, i & 0xff),
    priority: 5,
    ttlMs: 3_600_000,
    ackTimeoutMs: 10_000,
    maxAttempts: 5,
  }));
}

/** Bytes per command of the commands table, in a schema of its own (dropped afterwards). */
export async function postgresBytesPerCommand(url: string, commands: number, payloadBytes: number, devices = 1_000): Promise<PostgresBytes> {
  const pool = createPgPool({ url, max: 2, applicationName: 'outbound-bench-bytes' });
  const schema = `bench_bytes_${payloadBytes}_${process.pid}_${Date.now()}`;
  try {
    await runMigrations(pool, { schema });
    const table = `"${schema}".commands`;
    const events = `"${schema}".events`;
    const size = async (relation = table): Promise<number> =>
      Number((await pool.query<{ bytes: string }>('SELECT pg_total_relation_size($1::regclass) AS bytes', [relation])).rows[0]!.bytes);
    const base = await size();
    const eventsBase = await size(events);
    const queue = new ValidatedQueue(new PostgresQueue(pool, { prefix: schema, perDeviceCap: commands }));
    const all = inputs(commands, payloadBytes, devices);
    for (let i = 0; i < all.length; i += 1_000) await queue.enqueueBatch(all.slice(i, i + 1_000));
    const queued = (await size()) - base;
    let done = 0;
    for (;;) {
      const claimed = await queue.claim({ max: 64, leaseMs: 60_000 });
      if (claimed.length === 0) break;
      await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
      done += claimed.length;
    }
    if (done !== commands) throw new Error(`claimed ${done} of ${commands}`);
    const finishedBeforeVacuum = (await size()) - base;
    await pool.query(`VACUUM FULL ${table}`);
    const finished = (await size()) - base;
    const eventRows = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${events}`)).rows[0]!.n);
    const eventBytes = (await size(events)) - eventsBase;
    await queue.close();
    return {
      payloadBytes,
      queued: queued / commands,
      finishedBeforeVacuum: finishedBeforeVacuum / commands,
      finished: finished / commands,
      eventRows: eventRows / commands,
      eventBytes: eventBytes / commands,
    };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}

/** Prints the PostgreSQL bytes table (32 B and 1 KB payloads), or why it was not measured. */
export async function printPostgresBytes(commands: number, log: (line: string) => void = console.log): Promise<void> {
  const url = benchPgAdminUrl();
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  log(`\nPostgreSQL (${url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}), commands table with TOAST and indexes (pg_total_relation_size), ${commands} commands:`);
  log('\n| payload | bytes / queued command | bytes / finished command (before vacuum) | bytes / finished command (after VACUUM FULL) | event rows / command | event log bytes / command |');
  log('|---:|---:|---:|---:|---:|---:|');
  for (const payload of [32, 1024]) {
    try {
      const b = await postgresBytesPerCommand(url, commands, payload);
      log(`| ${payload} B | ${fmt(b.queued)} | ${fmt(b.finishedBeforeVacuum)} | ${fmt(b.finished)} | ${b.eventRows.toFixed(1)} | ${fmt(b.eventBytes)} |`);
    } catch (error) {
      log(`| ${payload} B | not measured: ${error instanceof Error ? error.message : String(error)} | | | | |`);
    }
  }
}
