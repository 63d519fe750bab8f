import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
// The client module alone: the package's main starts a dispatcher.
import { DeliveryClient, type Delivery } from '@outbound/dispatcher/dist/delivery-client';
import { startBenchRedis } from './bench-stores';
import { ChildGroup, cpuSeconds, REPO_ROOT } from './child-processes';
import { FleetProcess, fleetPhyId } from './fleet-process';
import { BENCH_SECRETS, startIngressProcess } from './service-processes';
import { median } from './stats';

/**
 * The ingress's CPU per command with nothing else in the pipeline (`npm run build && npm run
 * bench:ingress-cpu`; bench/README.md, "Ingress CPU per command"): one built ingress process,
 * 1,000 simulated devices (their own process, ACK at once), and this process sending batches of
 * a fixed size over the delivery stream, with a fixed number of batches in flight (a closed loop,
 * as a saturated dispatcher keeps it). No queue store, no dispatcher: the ingress's CPU / N is
 * all there is to read, and the batching does not move with the host's speed.
 *
 * Each round starts a fresh ingress and fleet per build, warms up, then reads the ingress's CPU
 * (user + system, /proc) over N commands. `BENCH_BASE=<repo root>` adds a second built tree (its
 * services/ingress/dist), measured in the same rounds in alternating order; the table gives the
 * medians, and the ratio of the two per round (its median is what to quote on a busy host).
 *
 * Env: BENCH_COMMANDS (default 30,000 per round and build), BENCH_BATCH (150 deliveries per
 * batch), BENCH_IN_FLIGHT (8 batches), BENCH_ROUNDS (5), BENCH_BASE, BENCH_PROFILE=<dir>
 * (`--cpu-prof` of each ingress).
 */
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 30_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 150);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BASE = process.env.BENCH_BASE;
const PROFILE = process.env.BENCH_PROFILE;
const DEVICES = 1_000;
const WARMUP = 5_000;

interface Result {
  ingressUs: number;
  /** The ingress's user and system (kernel) shares of ingressUs. */
  userUs: number;
  sysUs: number;
  /** Read and write system calls of the ingress per command (these do not move with host load). */
  reads: number;
  writes: number;
  devicesUs: number;
  perSecond: number;
}

/** User and system CPU seconds of `pid` (/proc/<pid>/stat, ticks of 1/100 s), and its read and write system calls (/proc/<pid>/io). */
function usage(pid: number): { user: number; sys: number; reads: number; writes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const count = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100, reads: count('syscr'), writes: count('syscw') };
}

/** Sends `total` deliveries in batches of BATCH, IN_FLIGHT batches at a time; every answer must be an ACK. */
async function drive(client: DeliveryClient, address: string, phyIds: string[], total: number, next: { device: number }): Promise<void> {
  const payload = Buffer.alloc(32, 7);
  let sent = 0;
  let failed = '';
  const worker = async (): Promise<void> => {
    while (sent < total && !failed) {
      const n = Math.min(BATCH, total - sent);
      sent += n;
      const batch: Delivery[] = [];
      for (let i = 0; i < n; i++) {
        batch.push({ phyId: phyIds[next.device]!, id: randomUUID(), payload, ackTimeoutMs: 10_000 });
        next.device = (next.device + 1) % phyIds.length;
      }
      await client.deliverBatch(address, batch, (answer) => {
        if (answer.status !== 200) failed ||= `a delivery was answered ${answer.status}: ${JSON.stringify(answer)}`;
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, () => worker()));
  if (failed) throw new Error(failed);
}

async function measure(group: ChildGroup, redisUrl: string, root: string, tag: string): Promise<Result> {
  const ingress = await startIngressProcess(group, `cpu-ingress-${tag}`, { backend: 'redis', redisUrl, prefix: `ingresscpu-${tag}` }, {}, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=ingress-${tag}-${process.pid}.cpuprofile`] : [], 60_000, root);
  const fleet = new FleetProcess(group, `cpu-devices-${tag}`, { host: '127.0.0.1', port: ingress.tcpPort, secret: BENCH_SECRETS.deviceSecret, count: DEVICES, idPrefix: 'CPU' });
  const client = new DeliveryClient({ internalToken: BENCH_SECRETS.internalToken, stream: true });
  try {
    await fleet.waitConnected();
    const phyIds = Array.from({ length: DEVICES }, (_, i) => fleetPhyId('CPU', DEVICES, i));
    const next = { device: 0 };
    await drive(client, ingress.httpUrl, phyIds, WARMUP, next);
    const before = usage(ingress.pid);
    const devicesStart = cpuSeconds(fleet.pid);
    const started = performance.now();
    await drive(client, ingress.httpUrl, phyIds, COMMANDS, next);
    const seconds = (performance.now() - started) / 1000;
    const after = usage(ingress.pid);
    const per = (key: 'user' | 'sys' | 'reads' | 'writes', scale = 1) => ((after[key] - before[key]) / COMMANDS) * scale;
    return {
      ingressUs: per('user', 1e6) + per('sys', 1e6),
      userUs: per('user', 1e6),
      sysUs: per('sys', 1e6),
      reads: per('reads'),
      writes: per('writes'),
      devicesUs: ((cpuSeconds(fleet.pid) - devicesStart) / COMMANDS) * 1e6,
      perSecond: COMMANDS / seconds,
    };
  } finally {
    await client.close();
    await fleet.stop();
    await group.stop(`cpu-ingress-${tag}`);
  }
}

async function main(): Promise<void> {
  const group = new ChildGroup();
  const builds: Array<[string, string]> = [['this build', REPO_ROOT]];
  if (BASE) builds.push(['base', BASE]);
  const results = new Map<string, Result[]>(builds.map(([name]) => [name, []]));
  try {
    const redis = await startBenchRedis(group, 'cpu-redis', { persistence: false });
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const [name, root] of order) {
        const result = await measure(group, redis.url, root, `${round}-${name === 'base' ? 'b' : 't'}`);
        results.get(name)!.push(result);
        console.log(
          `round ${round + 1} ${name}: ingress ${result.ingressUs.toFixed(1)} µs/cmd (user ${result.userUs.toFixed(1)}, system ${result.sysUs.toFixed(1)}; `
          + `${result.reads.toFixed(2)} reads, ${result.writes.toFixed(2)} writes /cmd), devices ${result.devicesUs.toFixed(1)} µs/cmd, ${Math.round(result.perSecond)} cmds/s`,
        );
      }
    }
    console.log(`\ningress CPU per command, ${COMMANDS} commands per round, batches of ${BATCH}, ${IN_FLIGHT} in flight, ${DEVICES} devices; medians of ${ROUNDS} rounds`);
    console.log('build        ingress µs/cmd    user  system  reads/cmd  writes/cmd  devices µs/cmd  cmds/s');
    for (const [name] of builds) {
      const r = results.get(name)!;
      const m = (key: keyof Result, digits = 1) => median(r.map((x) => x[key])).toFixed(digits);
      console.log(
        `${name.padEnd(11)}  ${m('ingressUs').padStart(14)}  ${m('userUs').padStart(6)}  ${m('sysUs').padStart(6)}  ${m('reads', 2).padStart(9)}  ${m('writes', 2).padStart(10)}`
        + `  ${m('devicesUs').padStart(14)}  ${m('perSecond', 0).padStart(6)}`,
      );
    }
    if (BASE) {
      const mine = results.get('this build')!;
      const base = results.get('base')!;
      const ratios = mine.map((r, i) => r.ingressUs / base[i]!.ingressUs);
      console.log(`this build / base, ingress CPU per command, per round: ${ratios.map((x) => x.toFixed(3)).join(' ')}; median ${median(ratios).toFixed(3)}`);
    }
  } finally {
    await group.stopAll();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
