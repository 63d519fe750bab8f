#!/usr/bin/env node
/*
 * What the draining upgrade (QUEUE_REDIS_UPGRADE_FROM=v2) costs Redis: commands per command
 * (INFO commandstats, commands run inside scripts included) to enqueue, and to claim and ack,
 * on v3 alone and through DrainingQueue with v2 not yet drained and drained, with and without
 * idempotency keys. Counts, not time: they do not depend on the machine's load.
 * Starts its own redis-server on a free port; needs `npm run build` first.
 *   node scripts/upgrade-cost.js [rounds=3]
 */
'use strict';
const { spawn } = require('node:child_process');
const { createServer } = require('node:net');
const { join } = require('node:path');
const Redis = require('ioredis');
const { RedisQueue, RedisQueueV3, DrainingQueue, ValidatedQueue } = require(join(__dirname, '..', 'packages', 'core', 'dist', 'index.js'));

const COMMANDS = 2_000;
const DEVICES = 100;
const BATCH = 100;
const NOT_COUNTED = new Set(['info', 'ping', 'subscribe', 'client', 'select', 'hello', 'config']);

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function commandCount(client) {
  let n = 0;
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (!NOT_COUNTED.has(m[1])) n += Number(m[2]);
  return n;
}

const input = (i, keyed, tag) => ({
  phyId: `d-${i % DEVICES}`, payload: Buffer.alloc(32, 120), priority: 5, ttlMs: 3_600_000, ackTimeoutMs: 10_000, maxAttempts: 5,
  ...(keyed ? { idempotencyKey: `${tag}-${i}` } : {}),
});

/** Enqueues COMMANDS in batches, then claims (64 at a time) and acks them all; answers commands per command for each. */
async function measure(probe, queue, keyed, tag) {
  await probe.config('RESETSTAT');
  for (let i = 0; i < COMMANDS; i += BATCH) await queue.enqueueBatch(Array.from({ length: BATCH }, (_, k) => input(i + k, keyed, tag)));
  const enqueue = (await commandCount(probe)) / COMMANDS;
  await probe.config('RESETSTAT');
  let done = 0;
  for (;;) {
    const claimed = await queue.claim({ max: 64, leaseMs: 30_000 });
    if (claimed.length === 0) break;
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' })));
    done += claimed.length;
  }
  if (done !== COMMANDS) throw new Error(`${tag}: delivered ${done} of ${COMMANDS}`);
  return { enqueue, claimAck: (await commandCount(probe)) / done };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const rounds = Number(process.argv[2] ?? 3);
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const client = new Redis({ port, retryStrategy: (n) => (n > 50 ? null : 50) });
  const probe = new Redis({ port, retryStrategy: (n) => (n > 50 ? null : 50) });
  const results = new Map();
  const record = (name, value) => results.set(name, [...(results.get(name) ?? []), value]);
  try {
    for (let round = 0; round < rounds; round += 1) {
      // Interleaved: every case once per round.
      const alone = new ValidatedQueue(new RedisQueueV3(client, { prefix: `r${round}a` }));
      record('v3 alone', await measure(probe, alone, false, `a${round}`));
      record('v3 alone, keyed', await measure(probe, alone, true, `ak${round}`));
      await alone.close();
      // v2 holds one command of a parked device: not drained.
      const old = new RedisQueue(client, { prefix: `r${round}b` });
      const v2 = new ValidatedQueue(old);
      await v2.enqueue({ ...input(0, false), phyId: 'parked' });
      await old.markDeviceOffline('parked');
      const draining = new DrainingQueue(old, new RedisQueueV3(client, { prefix: `r${round}b` }));
      const upgrading = new ValidatedQueue(draining);
      record('draining, v2 not empty', await measure(probe, upgrading, false, `b${round}`));
      record('draining, v2 not empty, keyed', await measure(probe, upgrading, true, `bk${round}`));
      await old.markDeviceOnline('parked');
      const [last] = await v2.claim({ max: 1, leaseMs: 1_000 });
      await v2.ack([{ id: last.id, leaseToken: last.leaseToken, outcome: 'ok' }]);
      while ((await draining.oldPending()) !== 0);
      record('draining, v2 drained', await measure(probe, upgrading, false, `c${round}`));
      record('draining, v2 drained, keyed', await measure(probe, upgrading, true, `ck${round}`));
      await draining.close();
    }
    console.log(`Redis commands per command, median of ${rounds} rounds (${COMMANDS} commands, ${DEVICES} devices, enqueue batches of ${BATCH}, claim 64)`);
    console.table([...results].map(([name, runs]) => ({ case: name, enqueue: median(runs.map((r) => r.enqueue)).toFixed(2), 'claim+ack': median(runs.map((r) => r.claimAck)).toFixed(2) })));
  } finally {
    await client.quit().catch(() => undefined);
    await probe.quit().catch(() => undefined);
    server.kill();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
