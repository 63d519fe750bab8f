import { performance } from 'node:perf_hooks';
import { createRedisClient } from '@outbound/core';
import { redisCpuSeconds } from './redis-cpu';

/** BullMQ doing the queue-core work: add N jobs (addBulk, 1,000 at a time, `addCalls` at once), then a worker with a no-op processor completes them all. */
export interface BullmqResult {
  concurrency: number;
  jobs: number;
  addPerSec: number;
  processPerSec: number;
  /** add + process, the same measure as the queue-core scripts' "end-to-end" column. */
  endToEndPerSec: number;
  /** Redis CPU (user + sys) per job over add + process, as the queue-core scripts measure it. */
  redisCpuUsPerJob: number;
}

/**
 * One BullMQ run on the Redis at `redisUrl`. BullMQ is loaded here, not at the top, because it is
 * a dev dependency of the bench only: the `outbound` CLI must start without it. Completed jobs
 * are kept (BullMQ's default), as Outbound keeps finished commands for their retention period.
 */
export async function runBullmq(
  redisUrl: string,
  options: {
    jobs: number;
    concurrency: number;
    payloadBytes?: number;
    /** addBulk calls in flight at once (default 1), as queue-core.ts keeps its enqueue calls (BENCH_ENQUEUE_CALLS). */
    addCalls?: number;
    afterAdd?: () => Promise<void>;
    beforeCleanup?: () => Promise<void>;
  },
): Promise<BullmqResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Queue, Worker } = require('bullmq') as typeof import('bullmq');
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const name = `bench-${options.concurrency}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  const payload = Buffer.alloc(options.payloadBytes ?? 64, 0x61).toString('base64');
  const meter = createRedisClient({ url: redisUrl });
  const cpuBefore = await redisCpuSeconds(meter);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: options.addCalls ?? 1 }, async () => {
      while (next < options.jobs) {
        const i = next;
        next += 1_000;
        await queue.addBulk(Array.from({ length: Math.min(1_000, options.jobs - i) }, (_, k) => ({
          name: 'cmd', data: { phyId: `DEV${String((i + k) % 1_000).padStart(4, '0')}`, payload }, opts: { priority: 0 },
        })));
      }
    }),
  );
  const added = performance.now();
  await options.afterAdd?.();
  let completed = 0;
  const worker = new Worker(name, async () => undefined, { connection, concurrency: options.concurrency, autorun: false });
  const done = new Promise<void>((resolve, reject) => {
    worker.on('completed', () => {
      completed += 1;
      if (completed === options.jobs) resolve();
    });
    worker.on('error', reject);
  });
  void worker.run();
  await done;
  const finished = performance.now();
  const redisCpuUsPerJob = ((await redisCpuSeconds(meter)) - cpuBefore) * 1e6 / options.jobs;
  await meter.quit();
  await worker.close();
  await options.beforeCleanup?.();
  await queue.obliterate({ force: true });
  await queue.close();
  const perSec = (ms: number) => Math.round((options.jobs * 1000) / ms);
  return { concurrency: options.concurrency, jobs: options.jobs, addPerSec: perSec(added - started), processPerSec: perSec(finished - added), endToEndPerSec: perSec(finished - started), redisCpuUsPerJob };
}
