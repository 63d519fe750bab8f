import { Pool } from 'pg';
import { COMMAND_DEFAULTS, PostgresQueue, runMigrations, ValidatedQueue, type EnqueueInput, type QueueOptions } from '@outbound/core';
import { createTestDatabase, uniquePrefix, type TestDatabase } from '@outbound/test-support';

/** One database per test file; each queue gets its own schema in it so tests do not see each other. */
export class PgQueueFixture {
  private db: TestDatabase | null = null;
  pool!: Pool;
  private readonly queues: Array<ValidatedQueue<PostgresQueue>> = [];

  constructor(private readonly name: string) {}

  async setup(): Promise<void> {
    this.db = await createTestDatabase(this.name);
    this.pool = new Pool({ connectionString: this.db.url, max: 12 });
  }

  /** A queue as callers see it (the store behind it: `.store`). */
  async queue(options: QueueOptions = {}): Promise<ValidatedQueue<PostgresQueue>> {
    const prefix = options.prefix ?? uniquePrefix(this.name).replace(/-/g, '_');
    await runMigrations(this.pool, { schema: prefix });
    const queue = new ValidatedQueue(new PostgresQueue(this.pool, { ...options, prefix }));
    this.queues.push(queue);
    return queue;
  }

  /**
   * Runs `body` with a queue in a fresh schema on a pool of one connection, so its prepared
   * statements and the catalog reads of `body` (pg_prepared_statements, EXPLAIN EXECUTE) share a session.
   */
  async oneConnection(name: string, options: QueueOptions, body: (queue: ValidatedQueue<PostgresQueue>, client: Pool, schema: string) => Promise<void>): Promise<void> {
    const client = new Pool({ ...this.pool.options, max: 1 });
    const prefix = uniquePrefix(name).replace(/-/g, '_');
    const queue = new ValidatedQueue(new PostgresQueue(client, { ...options, prefix }));
    try {
      await runMigrations(client, { schema: prefix });
      await body(queue, client, prefix);
    } finally {
      await queue.close();
      await client.end();
    }
  }

  async teardown(): Promise<void> {
    await Promise.all(this.queues.map((q) => q.close()));
    await this.pool?.end();
    await this.db?.drop();
  }
}

let n = 0;
export function input(phyId: string, extra: Partial<EnqueueInput> = {}): EnqueueInput {
  n++;
  return {
    phyId,
    payload: Buffer.from(`cmd-${n}`),
    priority: COMMAND_DEFAULTS.priority,
    ttlMs: COMMAND_DEFAULTS.ttlMs,
    ackTimeoutMs: COMMAND_DEFAULTS.ackTimeoutMs,
    maxAttempts: COMMAND_DEFAULTS.maxAttempts,
    ...extra,
  };
}

/** Every node of the plan `EXPLAIN (FORMAT JSON) <statement>` shows, depth first. */
export async function planNodes(client: Pool, statement: string): Promise<Array<Record<string, unknown>>> {
  const explained = await client.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${statement}`);
  return flattenPlan((explained.rows[0]!['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
}

/** A plan's nodes, the root first, then each child's subtree in order. */
function flattenPlan(root: Record<string, unknown>): Array<Record<string, unknown>> {
  const nodes: Array<Record<string, unknown>> = [];
  const walk = (node: Record<string, unknown>): void => {
    nodes.push(node);
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) walk(child);
  };
  walk(root);
  return nodes;
}

/**
 * The plan nodes (EXPLAIN ANALYZE, JSON) of each statement whose text contains `marker` that runs
 * inside a function called from `run`, on `client`'s one connection: auto_explain, loaded for
 * that session, sends each plan as a notice. Statements in PL/pgSQL functions are planned and
 * cached per session, which EXPLAIN EXECUTE of a prepared statement cannot show.
 */
export async function nestedPlans(client: Pool, marker: string, run: () => Promise<unknown>): Promise<Array<Array<Record<string, unknown>>>> {
  const plans: Array<Array<Record<string, unknown>>> = [];
  const connection = await client.connect();
  const onNotice = (notice: { message?: string }): void => {
    const text = notice.message ?? '';
    const start = text.indexOf('{');
    if (start < 0) return;
    const explained = JSON.parse(text.slice(start)) as { 'Query Text': string; Plan: Record<string, unknown> };
    if (explained['Query Text'].includes(marker)) plans.push(flattenPlan(explained.Plan));
  };
  connection.on('notice', onNotice);
  try {
    await connection.query(`LOAD 'auto_explain'`);
    await connection.query(
      `SET auto_explain.log_level = notice; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
       SET auto_explain.log_analyze = on; SET auto_explain.log_format = json`,
    );
    connection.release();
    await run();
  } finally {
    const again = await client.connect();
    await again.query('RESET auto_explain.log_min_duration');
    again.removeListener('notice', onNotice);
    again.release();
  }
  return plans;
}
