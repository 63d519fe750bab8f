/**
 * How often an ack that claims (`ackAndClaim`, v3) finds the claimer's next command, by how
 * the commands were enqueued: a claimer at batch 1 drains BENCH_COMMANDS (5,000) over 1,000
 * devices and counts the commands its acks claimed and those a claim after the ack had to take.
 *
 *   npm run build && node tools/bench/dist/bench/ack-claim-share.js
 *
 * Orders: queue-core's inputs (priorities 0-9) in batches of 1,000; the same shuffled, one
 * priority, in batches of 1,000; shuffled, one priority, enqueued one at a time. Starts its own
 * redis-server on a free port unless OUTBOUND_BENCH_REDIS_URL is set. Env: BENCH_COMMANDS, BENCH_SHARDS (16).
 */
import { ackThenClaim, createRedisClient, RedisQueueV3, ValidatedQueue, type EnqueueInput } from '@outbound/core';
import { startBenchRedis } from './bench-stores';
import { ChildGroup } from './child-processes';
import { coreInputs } from './core-inputs';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 5_000);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);

function shuffled(inputs: EnqueueInput[]): EnqueueInput[] {
  const out = inputs.map((input) => ({ ...input, priority: 5 }));
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  const url = process.env.OUTBOUND_BENCH_REDIS_URL ?? (await startBenchRedis(group, 'ack-claim-share-redis', { persistence: false })).url;
  const client = createRedisClient({ url });
  try {
    const orders: Array<[string, EnqueueInput[], number]> = [
      ['queue-core inputs, batches of 1,000', coreInputs(COMMANDS, 1_000), 1_000],
      ['shuffled, one priority, batches of 1,000', shuffled(coreInputs(COMMANDS, 1_000)), 1_000],
      ['shuffled, one priority, one at a time', shuffled(coreInputs(COMMANDS, 1_000)), 1],
    ];
    console.log(`| enqueued (${COMMANDS} commands, 1,000 devices, ${SHARDS} shards, claim batch 1) | next command claimed by the ack | by a claim after it |`);
    console.log('|---|---:|---:|');
    for (const [name, inputs, batch] of orders) {
      const queue = new ValidatedQueue(new RedisQueueV3(client, { prefix: `ack-claim-share-${Date.now()}`, shards: SHARDS, perDeviceCap: COMMANDS }));
      for (let i = 0; i < inputs.length; i += batch) await queue.enqueueBatch(inputs.slice(i, i + batch));
      const next = { max: 1, leaseMs: 60_000 };
      let claimed = await queue.claim(next);
      let byAck = 0;
      let byClaim = 0;
      while (claimed.length > 0) {
        const answer = await ackThenClaim(queue, claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })), next);
        claimed = answer.claimed;
        if (claimed.length > 0) byAck += 1;
        else {
          claimed = await queue.claim(next);
          byClaim += claimed.length;
        }
      }
      console.log(`| ${name} | ${byAck} | ${byClaim} |`);
      await queue.close();
    }
  } finally {
    await client.quit();
    await group.stopAll();
  }
}

// exit at once (the server stops with the process): nothing waits on the closed queues' connections
main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
