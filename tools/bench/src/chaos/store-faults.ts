/** Fault-suite cases that kill, stop or fill the store itself (redis-server, PostgreSQL). */
import { createRedisClient } from '@outbound/core';
import { sleep } from '../bench/child-processes';
import type { ChaosCase } from './chaos-case';
import { none, RATE } from './process-faults';

/** kill -9 of redis-server under load and a restart on its AOF. */
export function redisKill(): ChaosCase {
  return {
    name: 'redis-kill', backend: 'redis', devices: 30,
    proves: 'kill -9 of redis-server (AOF everysec) for 3 s, restarted on its data: every accepted command is delivered, every 5xx meanwhile is truthful',
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      await stack.killRedis();
      log('kill -9 redis-server');
      await sleep(3_000);
      await stack.restartRedis();
      log('redis-server restarted on its AOF');
      return none();
    },
    afterMs: 5_000,
  };
}

/** SIGSTOP of redis-server past the command timeout. */
export function redisPause(): ChaosCase {
  const pauseMs = 8_000;
  return {
    name: 'redis-sigstop', backend: 'redis', devices: 30,
    proves: `SIGSTOP of redis-server for ${pauseMs / 1000} s (past the 5 s command timeout): a 503 STORE_UNAVAILABLE means not stored, an OUTCOME_UNKNOWN names an id`,
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ stack, log }) {
      stack.signal('redis', 'SIGSTOP');
      log(`SIGSTOP redis-server for ${pauseMs} ms`);
      const readyz = await timeReadyz(stack.apiUrl());
      await sleep(Math.max(0, pauseMs - readyz.ms));
      stack.signal('redis', 'SIGCONT');
      log('SIGCONT redis-server');
      const failures = readyz.ms > 1_000 ? [`/readyz took ${readyz.ms} ms to answer during the stall (limit 1000 ms)`] : [];
      return { notes: [`/readyz during the stall: ${readyz.status} in ${readyz.ms} ms`], failures };
    },
    afterMs: 5_000,
  };
}

async function timeReadyz(apiUrl: string): Promise<{ status: string; ms: number }> {
  await sleep(500);
  const started = Date.now();
  try {
    const response = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: String(response.status), ms: Date.now() - started };
  } catch {
    return { status: 'no answer', ms: Date.now() - started };
  }
}

/** Redis reaches maxmemory (noeviction) under batch enqueues; then the limit is lifted. */
export function redisFull(): ChaosCase {
  const fullMs = 6_000;
  return {
    name: 'redis-maxmemory', backend: 'redis', devices: 40,
    proves: 'Redis at maxmemory (noeviction) under batch enqueues: refusals are 503 with a code, no refused batch leaves commands behind, accepted commands are delivered',
    stack: { dispatchers: 2, ingresses: 1 },
    load: { ratePerSecond: RATE, mode: 'batch' },
    async fault({ stack, log }) {
      const client = createRedisClient({ url: stack.redis.url });
      client.on('error', () => undefined);
      try {
        const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? 0);
        // A little headroom, so the limit is reached under the load, mid-batch.
        await client.config('SET', 'maxmemory', String(used + 256 * 1024));
        log(`maxmemory set to used_memory + 256 KB (${used + 256 * 1024} bytes) for ${fullMs} ms`);
        await sleep(fullMs);
        await client.config('SET', 'maxmemory', '0');
        log('maxmemory lifted');
      } finally {
        client.disconnect();
      }
      return none();
    },
    check(_ctx, counts) {
      const failures: string[] = [];
      const refused = Object.values(counts.fiveXx).reduce((n, v) => n + v, 0);
      if (refused === 0) failures.push('no enqueue was refused: the store never got full, the case proved nothing');
      return failures;
    },
    afterMs: 3_000,
  };
}

/** kill -9 of the PostgreSQL postmaster under load, restarted after 3 s. */
export function postgresKill(): ChaosCase {
  return {
    name: 'postgres-kill', backend: 'postgres', devices: 30,
    proves: 'kill -9 of PostgreSQL for 3 s, restarted: no dispatcher or ingress exits, the API answers 503 meanwhile and recovers by itself, nothing accepted is lost',
    stack: { dispatchers: 3, ingresses: 1 },
    load: { ratePerSecond: RATE },
    async fault({ postgres, driver, log }) {
      if (!postgres) throw new Error('postgres-kill needs the suite\'s PostgreSQL server');
      postgres.kill();
      log('kill -9 postgres (postmaster)');
      await sleep(3_000);
      await postgres.restart();
      const back = Date.now();
      log('postgres restarted');
      // Recovery: the first enqueue sent after the restart that is accepted.
      const deadline = back + 15_000;
      let recoveredMs: number | undefined;
      while (Date.now() < deadline && recoveredMs === undefined) {
        const first = driver.records.find((r) => r.sentAt >= back && r.answer === 'accepted');
        if (first) recoveredMs = first.sentAt - back;
        else await sleep(200);
      }
      const failures = recoveredMs === undefined || recoveredMs > 5_000 ? [`the API did not accept an enqueue within 5 s of PostgreSQL's return (${recoveredMs ?? 'none in 15 s'})`] : [];
      return { notes: [`first accepted enqueue ${recoveredMs ?? '-'} ms after the restart`], failures };
    },
    afterMs: 3_000,
  };
}
