import { mkdirSync } from 'node:fs';
import { Pool } from 'undici';
import { startBenchRedis } from './bench-stores';
import { ChildGroup, CpuMeter, REPO_ROOT, sleep } from './child-processes';
import { BENCH_SECRETS, startDispatcherProcess, type RunningDispatcher, type StoreUrls } from './service-processes';
import { median } from './stats';

/**
 * The dispatcher's CPU per public enqueue, request by request (`npm run build && npm run bench:enqueue`;
 * bench/README.md, "The fast path"). An API-only dispatcher (no worker) takes N commands as single
 * `POST /v1/commands` requests, C at once, then as single requests with an `Idempotency-Key`, then
 * as `POST /v1/commands/batch` of 500; each shape reports the dispatcher's CPU / N and the
 * requests' p50 / p99 as the client saw them. One more shape sends requests one at a time (no
 * concurrency): its p50 is an idle request's wall time.
 *
 * `BENCH_BASE=<repo root>` starts a second dispatcher from another built tree (e.g. a worktree of
 * main) beside this one and alternates the two, round by round, so both builds see the same host.
 *
 * Env: BENCH_COMMANDS (default 10,000 per shape and round), BENCH_ROUNDS (3), BENCH_CONCURRENCY (8),
 * BENCH_BASE, BENCH_SHAPES (e.g. `single,batch`; default all four), BENCH_PROFILE=<dir>
 * (`--cpu-prof` of the dispatcher(s)).
 */
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const BASE = process.env.BENCH_BASE;
const PROFILE = process.env.BENCH_PROFILE;
const DEVICES = 1_000;
const payload = Buffer.alloc(32, 7).toString('base64');
const headers = { 'content-type': 'application/json', authorization: `Bearer ${BENCH_SECRETS.apiKey}` };

type Shape = 'single' | 'keyed' | 'batch' | 'sequential';
const ALL_SHAPES: Shape[] = ['single', 'keyed', 'batch', 'sequential'];

/** BENCH_SHAPES: a comma-separated subset of the shapes, in the order given (default all). */
function shapesFromEnv(text: string | undefined): Shape[] {
  if (text === undefined || text.trim() === '') return ALL_SHAPES;
  const asked = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = asked.filter((s) => !(ALL_SHAPES as string[]).includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_SHAPES: unknown shape(s) ${unknown.join(', ')}; choose from ${ALL_SHAPES.join(', ')}`);
  return asked as Shape[];
}
const SHAPES = shapesFromEnv(process.env.BENCH_SHAPES);

interface Sample {
  cpuUs: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

let serial = 0;

/** Sends `total` commands in the given shape; answers the requests' durations in ms. */
async function drive(pool: Pool, shape: Shape, total: number): Promise<number[]> {
  const durations: number[] = [];
  const perRequest = shape === 'batch' ? 500 : 1;
  const workers = shape === 'sequential' ? 1 : shape === 'batch' ? 4 : CONCURRENCY;
  let planned = 0;
  let refused = 0;
  const one = async (): Promise<void> => {
    while (planned < total) {
      const n = Math.min(perRequest, total - planned);
      planned += n;
      const phyId = (i: number) => `DEV-${String((serial + i) % DEVICES).padStart(4, '0')}`;
      const body = shape === 'batch'
        ? JSON.stringify({ commands: Array.from({ length: n }, (_, i) => ({ phyId: phyId(i), payload })) })
        : JSON.stringify({ phyId: phyId(0), payload });
      serial += n;
      const started = performance.now();
      const response = await pool.request({
        method: 'POST', path: shape === 'batch' ? '/v1/commands/batch' : '/v1/commands',
        headers: shape === 'keyed' ? { ...headers, 'idempotency-key': `k-${serial}` } : headers,
        body,
      });
      const text = await response.body.text();
      if (response.statusCode === 503 && refused++ < 200) {
        // A loaded host can make the store's liveness probe lapse for a moment: send it again.
        planned -= n;
        await sleep(100);
        continue;
      }
      if (response.statusCode !== (shape === 'batch' ? 200 : 202)) throw new Error(`${shape}: ${response.statusCode} ${text.slice(0, 400)}`);
      durations.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: workers }, one));
  return durations;
}

async function measure(dispatcher: RunningDispatcher, shape: Shape, total: number): Promise<Sample> {
  const pool = new Pool(dispatcher.apiUrl, { connections: shape === 'sequential' ? 1 : CONCURRENCY });
  try {
    const cpu = new CpuMeter({ api: dispatcher.pid });
    cpu.begin();
    const durations = await drive(pool, shape, total);
    const seconds = cpu.seconds().api!;
    durations.sort((a, b) => a - b);
    return { cpuUs: (seconds * 1e6) / total, p50Ms: percentile(durations, 0.5), p99Ms: percentile(durations, 0.99) };
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  try {
    const redis = await startBenchRedis(group, 'enqueue-redis');
    const builds: Array<{ name: string; dispatcher: RunningDispatcher }> = [];
    if (PROFILE) mkdirSync(PROFILE, { recursive: true });
    const roots: Array<[string, string]> = [['this', REPO_ROOT], ...(BASE ? [['base', BASE] as [string, string]] : [])];
    for (const [name, root] of roots) {
      const stores: StoreUrls = { backend: 'redis', redisUrl: redis.url, prefix: `bench-${name}` };
      const flags = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=dispatcher-${name}.cpuprofile`] : [];
      // Hop timing off: the bench measures the enqueue path's own CPU. The global cap is raised so rounds never fill the queue.
      const dispatcher = await startDispatcherProcess(group, `enqueue-api-${name}`, stores, {
        DISPATCHER_WORKER_ENABLED: 'false', DISPATCHER_HOP_TIMING: 'false', QUEUE_GLOBAL_CAP: '100000000',
      }, flags, 30_000, root);
      builds.push({ name, dispatcher });
    }
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round <= ROUNDS; round++) {
      // Round 0 warms each process up (JIT, pools, script cache) and is not reported.
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const shape of SHAPES) {
        for (const { name, dispatcher } of order) {
          const n = round === 0 ? Math.min(COMMANDS, 2_000) : shape === 'sequential' ? Math.min(COMMANDS, 2_000) : COMMANDS;
          const sample = await measure(dispatcher, shape, n);
          if (round === 0) continue;
          const key = `${name}/${shape}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
          console.log(`round ${round} ${key}: ${sample.cpuUs.toFixed(1)} µs/cmd, p50 ${sample.p50Ms.toFixed(2)} ms, p99 ${sample.p99Ms.toFixed(2)} ms`);
        }
      }
    }
    console.log(`\nmedians of ${ROUNDS} rounds (${COMMANDS} commands per shape; ${CONCURRENCY} requests at once; sequential: 1), dispatcher CPU µs per command, client p50 / p99 ms:`);
    console.log('| build | shape | CPU µs/cmd | p50 ms | p99 ms |\n|---|---|---:|---:|---:|');
    for (const [key, list] of samples) {
      const [name, shape] = key.split('/');
      console.log(`| ${name} | ${shape} | ${median(list.map((s) => s.cpuUs)).toFixed(1)} | ${median(list.map((s) => s.p50Ms)).toFixed(2)} | ${median(list.map((s) => s.p99Ms)).toFixed(2)} |`);
    }
  } finally {
    await group.stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
