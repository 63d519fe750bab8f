/*
 * Runs inside a directory laid out as an image's /app (runtime-layout.test.ts): loads
 * @outbound/core the way the service beside it does, then enqueues, claims and acks one command
 * on each backend. Prints one JSON line: where core was loaded from and what each backend did.
 * Usage: node run-queues.js <redisUrl> <databaseUrl> <prefix>
 */
'use strict';
const core = require('@outbound/core');

const [redisUrl, databaseUrl, prefix] = process.argv.slice(2);
const input = (phyId) => ({ phyId, payload: Buffer.from('ping'), priority: 0, ttlMs: 60_000, ackTimeoutMs: 5_000, maxAttempts: 3 });

/** enqueue, claim, ack on one queue; answers the ids and the ack outcome. */
async function roundTrip(queue, phyId) {
  const { id } = await queue.enqueue(input(phyId));
  const [claimed] = await queue.claim({ max: 1, leaseMs: 10_000 });
  const [acked] = await queue.ack([{ id: claimed.id, leaseToken: claimed.leaseToken, outcome: 'ok' }]);
  return { enqueued: id, claimed: claimed.id, acked: acked.ok ? acked.status : String(acked.error) };
}

async function main() {
  const report = { core: require.resolve('@outbound/core') };

  const redis = core.createRedisClient({ url: redisUrl, connectionName: 'runtime-layout' });
  const redisQueue = new core.ValidatedQueue(new core.RedisQueue(redis, { prefix }));
  try {
    report.redis = await roundTrip(redisQueue, 'LAYOUT-R');
  } finally {
    await redisQueue.close();
    redis.disconnect();
  }

  const pool = core.createPgPool({ url: databaseUrl, max: 4, applicationName: 'runtime-layout' });
  try {
    await core.runMigrations(pool, { schema: prefix });
    const pgQueue = new core.ValidatedQueue(new core.PostgresQueue(pool, { prefix }));
    try {
      report.postgres = await roundTrip(pgQueue, 'LAYOUT-P');
      // Left queued for the CLI's migrate-queue to move.
      report.pending = (await pgQueue.enqueue(input('LAYOUT-M'))).id;
    } finally {
      await pgQueue.close();
    }
  } finally {
    await pool.end();
  }
  console.log(JSON.stringify(report));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
