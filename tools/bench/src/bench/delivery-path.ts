import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { createRedisClient } from '@outbound/core';
import { startBenchRedis } from './bench-stores';
import { ChildGroup, CpuMeter, sleep, waitUntil } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { scrape } from './service-metrics';
import { BENCH_SECRETS, startDispatcherProcess, startIngressProcess, type StoreUrls } from './service-processes';
import { median } from './stats';

/**
 * CPU per command of each process on the delivery path, with the batching held fixed so runs
 * compare on a loaded host (`npm run build && npm run bench:delivery`; bench/README.md, "The fast
 * path"). Each round: an API-only dispatcher takes N commands in batches of 500 (its CPU / N is the
 * API's cost), then a worker-only dispatcher is started and drains them through the ingress to
 * 1,000 simulated devices, claiming 200 at a time; from its /readyz until the devices applied all N,
 * CPU / N per process is the delivery path's cost. Rounds are repeated and the medians printed.
 *
 * Env: BENCH_COMMANDS (default 20,000), BENCH_ROUNDS (3), BENCH_HOP_TIMING (1: on; off by default
 * here), BENCH_PROFILE=<dir> (`--cpu-prof` of the ingress and the worker dispatchers),
 * BENCH_READY_TIMEOUT_MS (120,000: how long each service may take to start).
 */
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DEVICES = 1_000;
const PREFIX = 'bench';
const PROFILE = process.env.BENCH_PROFILE;
/** How long a service may take to answer /readyz (a loaded host under `nice` can take over 30 s). */
const READY_MS = Number(process.env.BENCH_READY_TIMEOUT_MS ?? 120_000);
const prof = (name: string) => (PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}-${process.pid}.cpuprofile`] : []);

/** Enqueues `total` commands through the API in batches of 500 (4 at once); a refused command is sent again. */
async function enqueueAll(apiUrl: string, phyIds: string[], total: number): Promise<void> {
  const pool = new Pool(apiUrl, { connections: 4 });
  const payload = Buffer.alloc(32, 7).toString('base64');
  let planned = 0;
  let accepted = 0;
  let refusedBatches = 0;
  const worker = async (): Promise<void> => {
    while (planned < total) {
      const n = Math.min(500, total - planned);
      planned += n;
      const commands = Array.from({ length: n }, (_, i) => ({ phyId: phyIds[(accepted + planned + i) % phyIds.length]!, payload }));
      const response = await pool.request({
        method: 'POST', path: '/v1/commands/batch',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_SECRETS.apiKey}` },
        body: JSON.stringify({ commands }),
      });
      const text = await response.body.text();
      const ok = response.statusCode === 200 ? (JSON.parse(text) as { results: Array<{ id?: string }> }).results.filter((r) => r.id).length : 0;
      accepted += ok;
      if (ok < n) {
        // A loaded host can make the store's liveness probe lapse for a moment: send the rest again.
        if (refusedBatches++ > 50) throw new Error(`batch enqueue keeps refusing (${response.statusCode}): ${text.slice(0, 400)}`);
        planned -= n - ok;
        await sleep(200);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  await pool.close();
}

/** Batches the ingress has taken so far: batch calls (its request counter for the batch route) and batch lines on delivery streams. */
async function batchCalls(ingressUrl: string): Promise<number> {
  let calls = 0;
  for (const line of (await scrape(ingressUrl)).split('\n')) {
    if (line.startsWith('outbound_http_requests_total{') && line.includes('/internal/v1/deliveries')) calls += Number(line.slice(line.lastIndexOf(' ') + 1));
    else if (/^outbound_ingress_delivery_stream_batches_total[ {]/.test(line)) calls += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return calls;
}

/** Scripts (EVALSHA, FCALL) and all calls the bench's redis-server has served (INFO commandstats). */
async function redisCalls(client: ReturnType<typeof createRedisClient>): Promise<{ scripts: number; all: number; byName: Map<string, number> }> {
  let scripts = 0;
  let all = 0;
  const byName = new Map<string, number>();
  for (const m of (await client.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    const calls = Number(m[2]);
    if (m[1] === 'info') continue;
    all += calls;
    byName.set(m[1]!, calls);
    if (/^(evalsha|eval|fcall|fcall_ro)$/.test(m[1]!)) scripts += calls;
  }
  return { scripts, all, byName };
}

/** Redis calls per delivered command by command name between two readings, the busiest first. */
function callsByName(before: Map<string, number>, after: Map<string, number>, n: number): string {
  return [...after]
    .map(([name, calls]) => [name, (calls - (before.get(name) ?? 0)) / n] as const)
    .filter(([, per]) => per >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([name, per]) => `${name} ${per.toFixed(2)}`)
    .join(', ');
}

/** Read and write system calls a process has made (/proc/<pid>/io: syscr, syscw); load-independent, unlike CPU time. */
function syscalls(pid: number): { reads: number; writes: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { reads: Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0), writes: Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0) };
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  const rows: Array<Record<string, number>> = [];
  try {
    const redis = await startBenchRedis(group, 'path-redis');
    const stores: StoreUrls = { backend: 'redis', redisUrl: redis.url, prefix: PREFIX };
    const ingress = await startIngressProcess(group, 'path-ingress', stores, {}, prof('ingress'), READY_MS);
    const api = await startDispatcherProcess(group, 'path-api', stores, { DISPATCHER_WORKER_ENABLED: 'false' }, [], READY_MS);
    const fleet = new FleetProcess(group, 'path-fleet', { host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: DEVICES, idPrefix: 'DEV' });
    await fleet.waitConnected();
    const phyIds = Array.from({ length: DEVICES }, (_, i) => fleetPhyId('DEV', DEVICES, i));
    const stats = createRedisClient({ url: redis.url });
    let applied = fleet.counters.applied;
    for (let round = 0; round <= ROUNDS; round++) {
      const n = round === 0 ? 2_000 : COMMANDS; // round 0 warms up (JIT, pools, script cache), not reported
      const apiCpu = new CpuMeter({ api: api.pid, redis: redis.pid });
      apiCpu.begin();
      await enqueueAll(api.apiUrl, phyIds, n);
      const enqueueSeconds = apiCpu.seconds();
      const worker = await startDispatcherProcess(group, `path-worker-${round}`, stores, { DISPATCHER_HOP_TIMING: process.env.BENCH_HOP_TIMING === '1' ? 'true' : 'false' }, prof(`dispatcher-${round}`), READY_MS);
      const cpu = new CpuMeter({ dispatcher: worker.pid, ingress: ingress.pid, redis: redis.pid, devices: fleet.pid });
      const [callsBefore, redisBefore] = [await batchCalls(ingress.httpUrl), await redisCalls(stats)];
      const [ingressIo, workerIo] = [syscalls(ingress.pid), syscalls(worker.pid)];
      cpu.begin();
      const started = Date.now();
      await waitUntil(`${n} commands applied`, 600_000, async () => fleet.counters.applied >= applied + n);
      const seconds = cpu.seconds();
      const wall = (Date.now() - started) / 1000;
      const [ingressIoAfter, workerIoAfter] = [syscalls(ingress.pid), syscalls(worker.pid)];
      const [callsAfter, redisAfter] = [await batchCalls(ingress.httpUrl), await redisCalls(stats)];
      applied += n;
      await group.stop(`path-worker-${round}`);
      if (round === 0) continue;
      const per = (s: number) => Math.round((s * 1e6) / n);
      const row = {
        'api µs/cmd': per(enqueueSeconds.api!), 'redis (enqueue) µs/cmd': per(enqueueSeconds.redis!),
        'dispatcher µs/cmd': per(seconds.dispatcher!), 'ingress µs/cmd': per(seconds.ingress!), 'redis (deliver) µs/cmd': per(seconds.redis!), 'devices µs/cmd': per(seconds.devices!),
        'delivered/s': Math.round(n / wall),
        'deliveries per batch': Math.round((n / Math.max(1, callsAfter - callsBefore)) * 10) / 10,
        'redis scripts /cmd': Math.round(((redisAfter.scripts - redisBefore.scripts) / n) * 100) / 100,
        'redis calls /cmd': Math.round(((redisAfter.all - redisBefore.all) / n) * 100) / 100,
        'ingress writes /cmd': Math.round(((ingressIoAfter.writes - ingressIo.writes) / n) * 100) / 100,
        'ingress reads /cmd': Math.round(((ingressIoAfter.reads - ingressIo.reads) / n) * 100) / 100,
        'dispatcher writes /cmd': Math.round(((workerIoAfter.writes - workerIo.writes) / n) * 100) / 100,
        'dispatcher reads /cmd': Math.round(((workerIoAfter.reads - workerIo.reads) / n) * 100) / 100,
      };
      rows.push(row);
      console.log(`round ${round}: ${JSON.stringify(row)}`);
      console.log(`round ${round}: redis calls per command: ${callsByName(redisBefore.byName, redisAfter.byName, n)}`);
    }
    const medians: Record<string, number> = {};
    for (const key of Object.keys(rows[0] ?? {})) medians[key] = median(rows.map((r) => r[key]!));
    console.log(`median of ${rows.length} rounds, ${COMMANDS} commands each: ${JSON.stringify(medians)}`);
    stats.disconnect();
    await fleet.stop();
  } finally {
    await group.stopAll(10_000);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
