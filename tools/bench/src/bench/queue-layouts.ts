/**
 * Redis cost per command of the two Redis layouts and BullMQ, in one run on one redis-server:
 *
 *   npm run build && npm run bench:layouts
 *
 * For claim batches 1, 16 and 64 (BullMQ: worker concurrency 1, 16, 64), rounds interleaved
 * (v2, v3, BullMQ, then again), each run enqueuing BENCH_COMMANDS (20,000) over 1,000 devices
 * and claiming + acking them all:
 *   - Redis CPU µs per command: INFO used_cpu_user + used_cpu_sys delta / commands (the
 *     server's own CPU time, which load on the machine slows but does not add to);
 *   - Redis calls per command: commands Redis ran, those scripts call included (INFO
 *     commandstats after CONFIG RESETSTAT), without the EVALSHA/EVAL wrappers;
 *   - commands/s end to end (wall time: the first to suffer from a loaded machine).
 * Then bytes: used_memory delta per queued command and per finished command (after claim
 * memory, which lapses after claimMemoryMs, is dropped), 32-byte and 1 KB payloads.
 * With BENCH_SECTIONS=...,callgrind and valgrind installed, each implementation also runs once at batch
 * 64 (BENCH_CALLGRIND_COMMANDS, 5,000) on a redis-server under `valgrind --tool=callgrind`:
 * instructions per command, which machine load does not change (an idle server's start and
 * stop are measured and subtracted).
 *
 * BENCH_SECTIONS=floor: v3 against the Redis commands its scripts ran, replayed with no logic
 * around them (floorSection; BENCH_FLOOR_BATCHES, BENCH_FLOOR_COMMANDS, BENCH_FLOOR_CALLGRIND=0).
 *
 * Env: BENCH_SECTIONS (cost,bytes; add callgrind, floor), BENCH_COMMANDS, BENCH_RUNS (3),
 * BENCH_BATCHES (1,16,64), BENCH_SHARDS (16), BENCH_CALLGRIND_BATCH (64), BENCH_IMPLS (v2,v3,bullmq, and
 * v3-scripts: v3 run as scripts where Redis would take its function library; the CPU ratio needs
 * bullmq), BENCH_CALLGRIND_KEEP (a folder: keep each callgrind.out there for callgrind_annotate; an
 * Outbound layout's run leaves two: callgrind.<impl>.out.1 up to the end of its enqueues, and
 * callgrind.<impl>.out its claims and acks),
 * BENCH_CALLGRIND_ONLY (a redis-server function, e.g. fcallCommand: count only inside it),
 * BENCH_CALLS=1 (each run also prints, on stderr, its calls per command by command type, the
 * requests per command the clients sent (scripts: one round trip and one server wake-up each),
 * and the Redis CPU of its enqueue and of its claim + ack apart, user and system time apart),
 * BENCH_INPUTS=core: the queue core's commands instead (core-inputs.ts: priorities 0-9 round
 * robin, 64-byte payloads; BullMQ's jobs 64 bytes too), whose best ready work moves from shard
 * to shard every few commands (bench/README.md, "An ack that claims (v3)"), for the cost and
 * callgrind sections.
 * BENCH_DRAIN: how an Outbound layout's claimer drains. Default: as the dispatcher does, each
 * ack claims the next batch in the same call (`ackAndClaim`; the v3 ack script claims on its
 * shard, and the plan's other shards get their claim in the same socket write; v2 has no such
 * call: ack, then claim), as BullMQ's worker fetches its next job in the call that completes the
 * last one. separate: claim, ack, claim (a round trip each); overlap (the ack goes out with the
 * next claim instead of before it) or one-write (the same, both calls in one socket write: one
 * server wake-up for the two).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ackThenClaim, createRedisClient, RedisQueue, RedisQueueV3, ValidatedQueue, type CommandQueue, type EnqueueInput, type RedisClient } from '@outbound/core';
import { runBullmq } from './bullmq-core';
import { redisCpu, redisCpuSeconds } from './redis-cpu';
import { freePort } from './child-processes';
import { printPostgresBytes } from './postgres-bytes';
import { median } from './stats';
import { coreInputs } from './core-inputs';
import { commandsByScript, floorLibrary, ScriptCapture, scriptKind, type CapturedCall } from './script-floor';

const DEVICES = 1_000;
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCHES = (process.env.BENCH_BATCHES ?? '1,16,64').split(',').map(Number);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);
const CALLGRIND_BATCH = Number(process.env.BENCH_CALLGRIND_BATCH ?? 64);
/**
 * Count only inside this redis-server function (e.g. `fcallCommand`: the v3 scripts alone,
 * without the server's cron, which a slowed server runs more often per command, or reading
 * requests). An idle server runs none of it: nothing is subtracted.
 */
const CALLGRIND_ONLY = process.env.BENCH_CALLGRIND_ONLY;
/**
 * v3-scripts: the v3 layout run as scripts (EVALSHA), not as its function library (FCALL).
 * floor: the Redis commands v3's scripts ran in a captured run, replayed call by call with no
 * logic around them (script-floor.ts); floor-noevents: the same without the event log's XADDs.
 */
type Impl = 'v2' | 'v3' | 'v3-scripts' | 'bullmq' | Floor;
type Floor = 'floor' | 'floor-noevents';
const isFloor = (impl: Impl | 'idle'): impl is Floor => impl === 'floor' || impl === 'floor-noevents';
/** Set by callgrindPerCommand: zeroes the counts once a floor's library is loaded (its compiling is not the floor's work). */
let floorLoaded: (() => void) | undefined;
const IMPLS = (process.env.BENCH_IMPLS ?? 'v2,v3,bullmq').split(',') as Impl[];
/** BENCH_INPUTS=core: the queue core's commands (every priority, 64-byte payloads) in the cost and callgrind runs. */
const CORE_INPUTS = process.env.BENCH_INPUTS === 'core';

interface Cost {
  cpuUsPerCmd: number;
  callsPerCmd: number;
  perSec: number;
}

function inputs(count: number, payloadBytes: number): EnqueueInput[] {
  return Array.from({ length: count }, (_, i) => ({
    phyId: `DEV${String(i % DEVICES).padStart(4, '0')}`,
    payload: Buffer.alloc(payloadBytes, i & 0xff),
    priority: 5,
    ttlMs: 3_600_000,
    ackTimeoutMs: 10_000,
    maxAttempts: 5,
  }));
}

async function startRedis(wrapper: string[] = []): Promise<{ url: string; child: ChildProcess; dir: string; exited: Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'outbound-layouts-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = wrapper.length ? spawn(wrapper[0]!, [...wrapper.slice(1), 'redis-server', ...args], { stdio: 'ignore', cwd: dir }) : spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedisClient({ url });
  probe.on('error', () => undefined);
  for (let i = 0; ; i += 1) {
    try {
      if ((await probe.ping()) === 'PONG') break;
    } catch (error) {
      if (i > 600) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return { url, child, dir, exited };
}

async function info(client: RedisClient, section: string): Promise<string> {
  return client.info(section);
}

/** BENCH_CALLS=1: Redis CPU µs per command of one phase (enqueue or claim + ack), user and system apart. */
async function printPhaseCpu(label: string, client: RedisClient, from: { user: number; sys: number }, commands: number): Promise<{ user: number; sys: number }> {
  const now = await redisCpu(client);
  const us = (s: number) => fmt((s * 1e6) / commands, 1);
  console.error(`${label} Redis CPU µs / command: user ${us(now.user - from.user)}, sys ${us(now.sys - from.sys)}`);
  return now;
}

/** Commands Redis ran since the last CONFIG RESETSTAT by type, scripts' own calls included, wrappers and the bench's probes not. */
async function callsByType(client: RedisClient): Promise<Map<string, number>> {
  const text = await info(client, 'commandstats');
  const byType = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!/^(eval|evalsha|eval_ro|evalsha_ro|fcall|info|config|script|ping|select|client|hello)$/.test(match[1]!)) byType.set(match[1]!, Number(match[2]));
  }
  return byType;
}

/**
 * BENCH_CALLS=1: each run also prints its Redis calls per command by command type (stderr),
 * to see which part of a lifecycle the calls go to.
 */
function printCallsByType(label: string, byType: Map<string, number>, commands: number): void {
  const parts = [...byType].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${fmt(n / commands, 2)}`);
  console.error(`${label} calls / command by type: ${parts.join(', ')}`);
}

/** BENCH_CALLS=1: the requests the clients sent per command (scripts and plain commands), by type: the round-trip side of the cost. */
async function printRequests(label: string, client: RedisClient, commands: number): Promise<void> {
  const text = await info(client, 'commandstats');
  const parts: string[] = [];
  for (const match of text.matchAll(/^cmdstat_(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro|bzpopmin|bzpopmax|blmove|brpoplpush|publish):calls=(\d+)/gm)) parts.push(`${match[1]} ${fmt(Number(match[2]) / commands, 2)}`);
  console.error(`${label} requests / command: ${parts.join(', ')}`);
}

async function usedMemory(client: RedisClient): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await info(client, 'memory'))?.[1] ?? 0);
}

/**
 * used_memory once Redis has finished shrinking the tables the drained keys left (its cron
 * resizes and rehashes them over the next ticks): read until two reads 250 ms apart agree
 * within 0.5%, at most 5 s. Measured right away, the same drained server read up to ~40 bytes
 * per command higher.
 */
async function settledMemory(client: RedisClient): Promise<number> {
  let last = await usedMemory(client);
  for (let i = 0; i < 20; i += 1) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await usedMemory(client);
    if (Math.abs(now - last) <= last * 0.005) return now;
    last = now;
  }
  return last;
}

async function dropAll(client: RedisClient): Promise<void> {
  await client.flushall();
}

function makeQueue(impl: 'v2' | 'v3' | 'v3-scripts', client: RedisClient, prefix: string): CommandQueue {
  const options = { prefix, perDeviceCap: COMMANDS, shards: SHARDS, liveness: false as const, admissionMaxMemoryRatio: 0 };
  if (impl === 'v2') return new ValidatedQueue(new RedisQueue(client, options));
  return new ValidatedQueue(new RedisQueueV3(client, { ...options, functions: impl === 'v3' }));
}

async function drain(queue: CommandQueue, batch: number, client?: RedisClient): Promise<number> {
  if (process.env.BENCH_DRAIN === 'overlap' || process.env.BENCH_DRAIN === 'one-write') return drainOverlapped(queue, batch, process.env.BENCH_DRAIN === 'one-write' ? client : undefined);
  if (process.env.BENCH_DRAIN !== 'separate') return drainMerged(queue, batch);
  let done = 0;
  for (;;) {
    const claimed = await queue.claim({ max: batch, leaseMs: 60_000 });
    if (claimed.length === 0) return done;
    // As the dispatcher records an answered delivery: with the replica that wrote it (the event log's command.delivered).
    await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
    done += claimed.length;
  }
}

/** The default drain: each ack claims the next batch (ackAndClaim); a claim for what it did not take. */
async function drainMerged(queue: CommandQueue, batch: number): Promise<number> {
  const next = { max: batch, leaseMs: 60_000 };
  let done = 0;
  let claimed = await queue.claim(next);
  while (claimed.length > 0) {
    done += claimed.length;
    const acks = claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' }));
    claimed = (await ackThenClaim(queue, acks, next)).claimed;
    // it may answer short while work is ready elsewhere: the rest as a claim
    if (claimed.length < batch) claimed = claimed.concat(await queue.claim({ max: batch - claimed.length, leaseMs: next.leaseMs }));
  }
  return done;
}

/**
 * BENCH_DRAIN=overlap: each ack goes out with the next claim, not before it (a probe of what one
 * round trip fewer per command is worth); one-write: the same, with both calls in one socket write.
 */
async function drainOverlapped(queue: CommandQueue, batch: number, corked?: RedisClient): Promise<number> {
  let done = 0;
  let claimed = await queue.claim({ max: batch, leaseMs: 60_000 });
  while (claimed.length > 0) {
    const acks = claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' }));
    done += claimed.length;
    // one-write: the socket corked until the calls of this turn are all written (one wake-up of the server for both)
    const socket = corked && 'stream' in corked ? corked.stream : undefined;
    socket?.cork();
    if (socket) setImmediate(() => socket.uncork());
    const [, next] = await Promise.all([queue.ack(acks), queue.claim({ max: batch, leaseMs: 60_000 })]);
    claimed = next;
  }
  // the last claims may have come back short while acks were on their way
  for (let more = await queue.claim({ max: batch, leaseMs: 60_000 }); more.length > 0; more = await queue.claim({ max: batch, leaseMs: 60_000 })) {
    await queue.ack(more.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const, replica: 'ingress-0' })));
    done += more.length;
  }
  return done;
}

/**
 * One run of enqueue + claim + ack of COMMANDS, measured from the server. afterEnqueue: called
 * between the enqueues and the drain (an Outbound layout's run only).
 */
async function runOnce(url: string, impl: Impl, batch: number, commands = COMMANDS, afterEnqueue?: () => void, replay?: readonly CapturedCall[]): Promise<Cost> {
  const client = createRedisClient({ url });
  try {
    const floor = isFloor(impl) ? floorLibrary(replay ?? [], impl === 'floor-noevents' ? notEventLog : undefined) : undefined;
    if (floor) {
      await client.call('FUNCTION', 'LOAD', 'REPLACE', floor.code);
      floorLoaded?.();
    }
    await client.config('RESETSTAT');
    const cpuBefore = await redisCpuSeconds(client);
    const phases = process.env.BENCH_CALLS === '1' ? { at: await redisCpu(client) } : null;
    const phaseEnd = async (phase: string) => {
      if (phases) phases.at = await printPhaseCpu(`${impl} batch ${batch}, ${SHARDS} shards, ${phase}:`, client, phases.at, commands);
    };
    const started = process.hrtime.bigint();
    let cpuAfter = 0;
    let callCount = 0;
    const measure = async () => {
      cpuAfter = await redisCpuSeconds(client);
      const byType = await callsByType(client);
      callCount = [...byType.values()].reduce((a, b) => a + b, 0);
      if (process.env.BENCH_CALLS === '1') {
        printCallsByType(`${impl} batch ${batch}, ${SHARDS} shards:`, byType, commands);
        await printRequests(`${impl} batch ${batch}, ${SHARDS} shards:`, client, commands);
      }
    };
    if (isFloor(impl)) {
      if (!replay || !floor) throw new Error(`${impl}: no captured calls`);
      await replayCalls(client, replay, floor.functions, async () => {
        await phaseEnd('enqueue');
        afterEnqueue?.();
      });
      await phaseEnd('claim + ack');
      await measure();
    } else if (impl === 'bullmq') {
      await runBullmq(url, {
        jobs: commands,
        concurrency: batch,
        payloadBytes: CORE_INPUTS ? 64 : 32,
        afterAdd: () => phaseEnd('enqueue'),
        beforeCleanup: async () => {
          await phaseEnd('claim + ack');
          await measure();
        },
      });
    } else {
      const queue = makeQueue(impl, client, `layouts-${impl}`);
      const all = CORE_INPUTS ? coreInputs(commands, DEVICES) : inputs(commands, 32);
      for (let i = 0; i < all.length; i += 1_000) await queue.enqueueBatch(all.slice(i, i + 1_000));
      if (process.env.BENCH_CALLS === '1') printCallsByType(`${impl} enqueue, ${SHARDS} shards:`, await callsByType(client), commands);
      await phaseEnd('enqueue');
      afterEnqueue?.();
      const done = await drain(queue, batch, client);
      if (done !== commands) throw new Error(`${impl}: claimed ${done} of ${commands}`);
      await phaseEnd('claim + ack');
      await measure();
      await queue.close();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await dropAll(client);
    return { cpuUsPerCmd: ((cpuAfter - cpuBefore) * 1e6) / commands, callsPerCmd: callCount / commands, perSec: commands / seconds };
  } finally {
    client.disconnect();
  }
}

/** Commands other than the event log's. */
const notEventLog = (command: Buffer[]) => !/^(xadd|xtrim)$/i.test(command[0]!.toString('latin1'));

/**
 * Replays captured script calls, one FCALL of its function (floorLibrary) each, in order and
 * one at a time; `enqueued` runs before the first call that is not an enqueue (the captured run
 * enqueued all, then drained).
 */
async function replayCalls(client: RedisClient, calls: readonly CapturedCall[], functions: ReadonlyArray<string | null>, enqueued: () => Promise<void>): Promise<void> {
  let draining = false;
  for (const [i, call] of calls.entries()) {
    if (!draining && scriptKind(call.script) !== 'enqueue') {
      draining = true;
      await enqueued();
    }
    const fn = functions[i];
    if (fn) await client.call('FCALL', fn, '0');
  }
  if (!draining) await enqueued();
}

/** The script calls (and the commands each ran) of one v3 run of `commands` at `batch`, on the server at `url` (MONITOR). */
async function captureV3(url: string, batch: number, commands: number): Promise<CapturedCall[]> {
  const capture = await ScriptCapture.start(Number(new URL(url).port));
  await runOnce(url, 'v3', batch, commands);
  const client = createRedisClient({ url });
  try {
    return await capture.stop(client);
  } finally {
    client.disconnect();
  }
}

/** used_memory per queued and per finished command. */
async function bytesPerCommand(url: string, impl: Impl, payloadBytes: number): Promise<{ queued: number; finished: number }> {
  if (isFloor(impl)) throw new Error(`${impl}: the floor has no bytes of its own (BENCH_SECTIONS=floor)`);
  const client = createRedisClient({ url });
  try {
    // A first small run loads the implementation's scripts (Redis keeps them across FLUSHALL):
    // their bodies are a fixed cost, not per command.
    if (impl === 'bullmq') await runBullmq(url, { jobs: 64, concurrency: 64, payloadBytes });
    else {
      const warm = makeQueue(impl, client, `warm-${impl}`);
      await warm.enqueueBatch(inputs(64, payloadBytes));
      await drain(warm, 64);
      await warm.close();
    }
    await dropAll(client);
    const base = await settledMemory(client);
    let queuedBytes = 0;
    let finishedBytes = 0;
    if (impl === 'bullmq') {
      await runBullmq(url, {
        jobs: COMMANDS,
        concurrency: 64,
        payloadBytes,
        afterAdd: async () => {
          queuedBytes = (await usedMemory(client)) - base;
        },
        beforeCleanup: async () => {
          finishedBytes = (await settledMemory(client)) - base;
        },
      });
    } else {
      const queue = makeQueue(impl, client, `bytes-${impl}`);
      const all = inputs(COMMANDS, payloadBytes);
      for (let i = 0; i < all.length; i += 1_000) await queue.enqueueBatch(all.slice(i, i + 1_000));
      queuedBytes = (await usedMemory(client)) - base;
      await drain(queue, 64);
      // A claim's memory (for a re-sent script) lapses after claimMemoryMs: not what stays.
      await client.eval("for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('UNLINK', k) end", 0, `bytes-${impl}:*claim:*`);
      finishedBytes = (await settledMemory(client)) - base;
      await queue.close();
    }
    await dropAll(client);
    return { queued: queuedBytes / COMMANDS, finished: finishedBytes / COMMANDS };
  } finally {
    client.disconnect();
  }
}
/**
 * Instructions redis-server ran per command under callgrind (start and stop included: the
 * caller subtracts an idle server's), and for an Outbound layout the part of them its drain
 * (claim + ack) ran: callgrind_control dumps the counts once the enqueues are done.
 */
async function callgrindPerCommand(
  impl: Impl | 'idle',
  commands: number,
  batch = CALLGRIND_BATCH,
  replay?: readonly CapturedCall[],
): Promise<{ instructions: number; drain: number | null; calls: number }> {
  const toggle = CALLGRIND_ONLY ? [`--toggle-collect=${CALLGRIND_ONLY}`] : [];
  const server = await startRedis(['valgrind', '--tool=callgrind', ...toggle, '--callgrind-out-file=callgrind.out']);
  const dumpEnqueued = impl === 'idle' || impl === 'bullmq' ? undefined : () => execFileSync('callgrind_control', ['--dump=enqueued', String(server.child.pid)], { stdio: 'ignore' });
  floorLoaded = () => execFileSync('callgrind_control', ['--zero', String(server.child.pid)], { stdio: 'ignore' });
  const cost = impl !== 'idle' ? await runOnce(server.url, impl, batch, commands, dumpEnqueued, replay).finally(() => (floorLoaded = undefined)) : undefined;
  const client = createRedisClient({ url: server.url });
  client.on('error', () => undefined);
  await client.shutdown('NOSAVE').catch(() => undefined);
  client.disconnect();
  await server.exited;
  // callgrind.out: from the dump to the end (the drain and the stop), or the whole run without one; callgrind.out.1: up to the dump
  const files = readdirSync(server.dir).filter((f) => f.startsWith('callgrind.out')).sort();
  const totals = files.map((file) => Number(/^(?:summary|totals):\s*(\d+)/m.exec(readFileSync(join(server.dir, file), 'utf8'))?.[1] ?? NaN));
  const total = totals.reduce((a, b) => a + b, 0);
  if (process.env.BENCH_CALLGRIND_KEEP) for (const file of files) copyFileSync(join(server.dir, file), join(process.env.BENCH_CALLGRIND_KEEP, file.replace('callgrind.out', `callgrind.${impl}.out`)));
  rmSync(server.dir, { recursive: true, force: true });
  const drain = files.length === 2 ? totals[0]! / commands : null;
  return { instructions: impl === 'idle' ? total : total / commands, drain, calls: cost?.callsPerCmd ?? 0 };
}

/** What each command a v3 script runs is for (the floor's table names them). */
const FLOOR_PURPOSE: Record<string, string> = {
  SET: 'meta, request token (SET NX), a record put back',
  MSET: "an enqueue's records (one per call)",
  GET: 'meta; a record (claim)',
  GETDEL: 'the acked record, taken',
  HGET: 'device state; claim request hash',
  HSET: 'device states (one per call); finished record into its minute hash; claim request hash',
  HINCRBY: "the claim batch's count left",
  ZADD: "device line; ready, expiry (one per call); lease",
  ZPOPMIN: "a device line's head",
  ZRANGE: 'next head score; best scores for the claim plan',
  ZREM: "ready; lease",
  XADD: 'event log entry',
  TIME: "Redis' clock",
  PEXPIRE: "minute hash; claim request hash",
  ZINCRBY: "finished bytes per minute",
  PUBLISH: 'wake claimers',
  DEL: 'a key',
  ZCARD: '`ready` empty? (an ack wakes claimers only then)',
  HDEL: 'device state with nothing left',
  ZREMRANGEBYRANK: "a device line's heads",
};

/**
 * BENCH_SECTIONS=floor: v3 against its floor (the commands its scripts ran, replayed with no
 * logic: script-floor.ts) and BullMQ, at BENCH_FLOOR_BATCHES (1,64), BENCH_FLOOR_COMMANDS
 * (3,000) each: the commands by script, Redis CPU per command (BENCH_RUNS interleaved rounds,
 * one capture per batch on the same server), and with valgrind instructions per command under
 * callgrind (each batch captured again from a v3 run under callgrind, whose slowed server runs
 * more refresh claims at batch 1). BENCH_FLOOR_CALLGRIND=0 skips callgrind.
 */
async function floorSection(): Promise<void> {
  const batches = (process.env.BENCH_FLOOR_BATCHES ?? '1,64').split(',').map(Number);
  const commands = Number(process.env.BENCH_FLOOR_COMMANDS ?? 3_000);
  const impls: Impl[] = ['v3', 'floor', 'floor-noevents', 'bullmq'];
  const names: Record<string, string> = {
    v3: 'Outbound v3',
    floor: "floor: v3's commands replayed",
    'floor-noevents': 'floor without the event log (no XADD)',
  };
  const name = (impl: Impl, batch: number) => (impl === 'bullmq' ? `BullMQ (concurrency ${batch})` : names[impl]!);
  const server = await startRedis();
  const captures = new Map<number, CapturedCall[]>();
  try {
    console.log(`\nfloor: ${commands} commands over ${DEVICES} devices, ${SHARDS} shards, ${RUNS} interleaved rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const batch of batches) {
      const calls = await captureV3(server.url, batch, commands);
      captures.set(batch, calls);
      console.log(`\n| v3 script (claim batch ${batch}) | command | calls / command | for |`);
      console.log('|---|---|---:|---|');
      for (const row of commandsByScript(calls, commands)) console.log(`| ${row.script} | ${row.command} | ${fmt(row.perCommand, 3)} | ${FLOOR_PURPOSE[row.command] ?? ''} |`);
    }
    const results = new Map<string, Cost[]>();
    for (let round = 0; round < RUNS; round += 1) {
      for (const batch of batches) {
        for (const impl of impls) {
          const cost = await runOnce(server.url, impl, batch, commands, undefined, captures.get(batch));
          results.set(`${impl}:${batch}`, [...(results.get(`${impl}:${batch}`) ?? []), cost]);
          console.error(`floor round ${round + 1} batch ${batch} ${impl}: ${fmt(cost.cpuUsPerCmd, 1)} µs, ${fmt(cost.callsPerCmd, 1)} calls`);
        }
      }
    }
    console.log('\n| claim batch | implementation | Redis CPU µs / command | Redis calls / command | CPU vs BullMQ |');
    console.log('|---:|---|---:|---:|---:|');
    for (const batch of batches) {
      const bull = median(results.get(`bullmq:${batch}`)!.map((c) => c.cpuUsPerCmd));
      for (const impl of impls) {
        const runs = results.get(`${impl}:${batch}`)!;
        const cpu = median(runs.map((c) => c.cpuUsPerCmd));
        console.log(`| ${batch} | ${name(impl, batch)} | ${fmt(cpu, 1)} | ${fmt(median(runs.map((c) => c.callsPerCmd)), 1)} | ${fmt(cpu / bull, 2)} |`);
      }
    }
  } finally {
    server.child.kill('SIGTERM');
    rmSync(server.dir, { recursive: true, force: true });
  }
  if (process.env.BENCH_FLOOR_CALLGRIND === '0') return;
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.log('\n(no valgrind: floor instructions not measured)');
    return;
  }
  const idle = CALLGRIND_ONLY ? 0 : (await callgrindPerCommand('idle', commands)).instructions;
  for (const batch of batches) {
    // captured from a v3 run on a server under callgrind, as slow as the measured ones
    const cg = await startRedis(['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null']);
    let calls: CapturedCall[];
    try {
      calls = await captureV3(cg.url, batch, commands);
    } finally {
      const client = createRedisClient({ url: cg.url });
      client.on('error', () => undefined);
      await client.shutdown('NOSAVE').catch(() => undefined);
      client.disconnect();
      await cg.exited;
      rmSync(cg.dir, { recursive: true, force: true });
    }
    console.log(
      `\n| implementation (batch ${batch}, ${SHARDS} shards, ${commands} commands, callgrind${CALLGRIND_ONLY ? ` in ${CALLGRIND_ONLY}` : ''}) | instructions / command | of which enqueue | of which claim + ack | Redis calls / command | vs BullMQ |`,
    );
    console.log('|---|---:|---:|---:|---:|---:|');
    const rows: Array<[Impl, number, string[], number]> = [];
    for (const impl of impls) {
      const measured = await callgrindPerCommand(impl, commands, batch, calls);
      const perCmd = measured.instructions - idle / commands;
      const split = measured.drain === null ? ['-', '-'] : [fmt(perCmd - measured.drain), fmt(measured.drain)];
      rows.push([impl, perCmd, split, measured.calls]);
    }
    const bull = rows.find(([impl]) => impl === 'bullmq')![1];
    for (const [impl, perCmd, split, calls] of rows) console.log(`| ${name(impl, batch)} | ${fmt(perCmd)} | ${split[0]} | ${split[1]} | ${fmt(calls, 1)} | ${fmt(perCmd / bull, 2)} |`);
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const sections = (process.env.BENCH_SECTIONS ?? 'cost,bytes').split(',');
  if (sections.length === 1 && sections[0] === 'floor') return floorSection();
  const server = await startRedis();
  try {
    console.log(`redis-server ${server.url}: ${COMMANDS} commands over ${DEVICES} devices, ${SHARDS} shards, ${CORE_INPUTS ? "the queue core's commands (priorities 0-9, 64-byte payloads)" : '32-byte payloads'}, ${RUNS} interleaved rounds`);
    console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared 2-core machine: compare same-run ratios)`);
    const results = new Map<string, Cost[]>();
    for (let round = 0; round < (sections.includes('cost') ? RUNS : 0); round += 1) {
      for (const batch of BATCHES) {
        for (const impl of IMPLS) {
          const cost = await runOnce(server.url, impl, batch);
          const key = `${impl}:${batch}`;
          results.set(key, [...(results.get(key) ?? []), cost]);
          console.error(`round ${round + 1} batch ${batch} ${impl}: ${fmt(cost.cpuUsPerCmd, 1)} µs, ${fmt(cost.callsPerCmd, 1)} calls, ${fmt(cost.perSec)}/s`);
        }
      }
    }
    if (sections.includes('cost')) console.log('\n| claim batch | implementation | Redis CPU µs / command | Redis calls / command | commands/s end to end | CPU vs BullMQ |');
    if (sections.includes('cost')) console.log('|---:|---|---:|---:|---:|---:|');
    for (const batch of sections.includes('cost') ? BATCHES : []) {
      const bull = median((results.get(`bullmq:${batch}`) ?? []).map((c) => c.cpuUsPerCmd));
      for (const impl of IMPLS) {
        const runs = results.get(`${impl}:${batch}`)!;
        const cpu = median(runs.map((c) => c.cpuUsPerCmd));
        const name = impl === 'bullmq' ? `BullMQ (concurrency ${batch})` : `Outbound ${impl}`;
        console.log(`| ${batch} | ${name} | ${fmt(cpu, 1)} | ${fmt(median(runs.map((c) => c.callsPerCmd)), 1)} | ${fmt(median(runs.map((c) => c.perSec)))} | ${fmt(cpu / bull, 2)} |`);
      }
    }
    if (sections.includes('bytes')) console.log('\n| implementation | payload | bytes / queued command | bytes / finished command |');
    if (sections.includes('bytes')) console.log('|---|---:|---:|---:|');
    for (const payload of sections.includes('bytes') ? [32, 1024] : []) {
      for (const impl of IMPLS) {
        const bytes = await bytesPerCommand(server.url, impl, payload);
        console.log(`| ${impl === 'bullmq' ? 'BullMQ (completed jobs kept)' : `Outbound ${impl}`} | ${payload} B | ${fmt(bytes.queued)} | ${fmt(bytes.finished)} |`);
      }
    }
    if (sections.includes('bytes')) await printPostgresBytes(COMMANDS);
  } finally {
    server.child.kill('SIGTERM');
    rmSync(server.dir, { recursive: true, force: true });
  }
  if (sections.includes('callgrind')) {
    const commands = Number(process.env.BENCH_CALLGRIND_COMMANDS ?? 5_000);
    const idle = CALLGRIND_ONLY ? 0 : (await callgrindPerCommand('idle', commands)).instructions;
    console.log(
      `\n| implementation (batch ${CALLGRIND_BATCH}, ${SHARDS} shards, ${commands} commands, callgrind${CALLGRIND_ONLY ? ` in ${CALLGRIND_ONLY}` : ''}) | instructions / command | of which enqueue | of which claim + ack | Redis calls / command |`,
    );
    console.log('|---|---:|---:|---:|---:|');
    for (const impl of IMPLS) {
      const measured = await callgrindPerCommand(impl, commands);
      const perCmd = measured.instructions - idle / commands;
      // the enqueue part carries the server's start and stop, less the idle server's
      const split = measured.drain === null ? ['-', '-'] : [fmt(perCmd - measured.drain), fmt(measured.drain)];
      console.log(`| ${impl === 'bullmq' ? `BullMQ (concurrency ${CALLGRIND_BATCH})` : `Outbound ${impl}`} | ${fmt(perCmd)} | ${split[0]} | ${split[1]} | ${fmt(measured.calls, 1)} |`);
    }
  }
  if (sections.includes('floor')) await floorSection();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
