#!/usr/bin/env node
/**
 * End-to-end benchmark against a running stack (public API → dispatcher → ingress → devices).
 * Enqueues N commands over the API to devices SIM00001.. and reads each one back (long poll)
 * while the next are sent; reports commands/s and enqueue-to-ACK percentiles from the stored
 * timestamps (createdAt and updatedAt are both taken from the store's clock, so client delays
 * do not enter them). Memory does not grow with N: at most `--window` ids wait to be read back
 * (the producer waits beyond that) and latencies go into an HDR histogram.
 *
 *   STACK_RATE=0 STACK_ACK_LATENCY=0 STACK_REJECT_RATE=0 STACK_BUSY_RATE=0 npm start   # terminal 1
 *   node tools/bench/dist/bench/e2e-bench.js --commands 20000                              # terminal 2 (throughput)
 *   node tools/bench/dist/bench/e2e-bench.js --commands 5000 --rate 1000                   # latency below saturation
 */
import { Command, InvalidArgumentError } from 'commander';
import { Pool } from 'undici';
import { LatencyRecorder } from '@outbound/cli';

interface Flags { url: string; key: string; devices: number; commands: number; rate: number; batch: number; concurrency: number; window: number; json: boolean }
interface View { id: string; status: string; createdAt: string; updatedAt: string }

const int = (min: number) => (text: string) => {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return v;
};

/** Requests answered 503 or 429 and sent again. */
let retried = 0;

/**
 * One API call. A 503 (store unreachable, nothing stored) or 429 is sent again after its
 * Retry-After (1 s without one), up to 60 times: a long run on a busy host meets a few, and
 * ending a million-command run on the first would throw the whole run away.
 */
async function call<T>(pool: Pool, key: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await pool.request({
      method, path,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 120_000, bodyTimeout: 120_000,
    });
    const text = await res.body.text();
    if ((res.statusCode === 503 || res.statusCode === 429) && attempt < 60) {
      retried += 1;
      const after = Number(res.headers['retry-after']);
      await new Promise((r) => setTimeout(r, (Number.isFinite(after) && after > 0 ? after : 1) * 1000));
      continue;
    }
    if (res.statusCode >= 400) throw new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}

/**
 * Ids answered by the API and not yet read back: a FIFO the producer fills and the readers
 * drain. Its length is the run's only per-command memory, and the producer keeps it under the
 * window, so a million commands cost what a few thousand do.
 */
class PendingIds {
  private items: string[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  closed = false;

  get length(): number {
    return this.items.length - this.head;
  }

  push(ids: string[]): void {
    for (const id of ids) this.items.push(id);
    this.signal();
  }

  /** The next id; undefined once closed and empty. */
  async take(): Promise<string | undefined> {
    while (this.length === 0) {
      if (this.closed) return undefined;
      await this.changed();
    }
    const id = this.items[this.head++]!;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.signal();
    return id;
  }

  close(): void {
    this.closed = true;
    this.signal();
  }

  /** Resolves on the next push, take or close. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.wake;
      this.wake = () => {
        previous?.();
        resolve();
      };
    });
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

async function run(flags: Flags): Promise<void> {
  // Two pools: the readers' long polls hold their connections up to 30 s each, and the
  // producer's batches must not queue behind them.
  const pool = new Pool(flags.url, { connections: flags.concurrency });
  const sendPool = new Pool(flags.url, { connections: 4 });
  const payload = Buffer.from('bench').toString('base64');
  const pending = new PendingIds();
  const started = Date.now();
  let accepted = 0;
  let heldBack = 0;
  /** Items of a batch the API refused, by error code (the batch itself answered 200). */
  const refused: Record<string, number> = {};

  // Producer: batches made as they are sent (a million command objects never exist at once),
  // 4 requests at a time at full speed or one by one on an open-loop schedule, and held back
  // while more than `window` accepted commands wait to be read back.
  const produce = async (): Promise<void> => {
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < flags.commands) {
        const first = next;
        const count = Math.min(flags.batch, flags.commands - first);
        next += count;
        if (flags.rate > 0) {
          // Open loop: batch k leaves at k * batch / rate seconds, whatever the answers do.
          const due = started + (first / flags.rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        const full = () => pending.length > 0 && pending.length + count > flags.window;
        if (full()) heldBack += 1;
        while (full()) await pending.changed();
        const commands = Array.from({ length: count }, (_, j) => ({ phyId: `SIM${String(((first + j) % flags.devices) + 1).padStart(5, '0')}`, payload }));
        const answer = await call<{ results: Array<{ id?: string; code?: string }> }>(sendPool, flags.key, 'POST', '/v1/commands/batch', { commands });
        const ids = answer.results.flatMap((r) => (r.id ? [r.id] : []));
        for (const r of answer.results) if (!r.id) refused[r.code ?? 'unknown'] = (refused[r.code ?? 'unknown'] ?? 0) + 1;
        accepted += ids.length;
        pending.push(ids);
      }
    };
    await Promise.all(Array.from({ length: flags.rate > 0 ? 1 : 4 }, sender));
    pending.close();
  };

  // Readers: each answer is folded into counters and an HDR histogram as it arrives (no array
  // of views, no spread into Math.min).
  const latencies = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  let acked = 0;
  let first = Infinity;
  let last = -Infinity;
  const read = async (): Promise<void> => {
    for (let id = await pending.take(); id !== undefined; id = await pending.take()) {
      const view = await call<View>(pool, flags.key, 'GET', `/v1/commands/${id}?waitMs=30000`);
      statuses[view.status] = (statuses[view.status] ?? 0) + 1;
      if (view.status !== 'acked') continue;
      const created = Date.parse(view.createdAt);
      const updated = Date.parse(view.updatedAt);
      acked += 1;
      latencies.recordMs(updated - created);
      if (created < first) first = created;
      if (updated > last) last = updated;
    }
  };
  let enqueueSeconds = 0;
  await Promise.all([
    produce().then(() => (enqueueSeconds = (Date.now() - started) / 1000)),
    ...Array.from({ length: flags.concurrency }, read),
  ]);
  await Promise.all([pool.close(), sendPool.close()]);

  const { p50, p95, p99, max } = latencies.summary();
  const result = {
    commands: flags.commands,
    accepted,
    refused,
    statuses,
    devices: flags.devices,
    offeredRate: flags.rate || 'max',
    enqueueSeconds: Number(enqueueSeconds.toFixed(2)),
    runSeconds: Number(((Date.now() - started) / 1000).toFixed(2)),
    window: flags.window,
    producerHeldBack: heldBack,
    retriedRequests: retried,
    commandsPerSecond: acked === 0 ? 0 : Math.round(acked / Math.max(0.001, (last - first) / 1000)),
    enqueueToAckMs: acked === 0 ? null : { p50, p95, p99, max },
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`accepted ${result.accepted}/${result.commands}${Object.keys(refused).length ? `  refused ${JSON.stringify(refused)}` : ''}  statuses ${JSON.stringify(statuses)}  offered ${result.offeredRate}/s`);
    console.log(`end to end: ${result.commandsPerSecond} commands/s (first enqueue to last ACK), run ${result.runSeconds} s, producer held back by the window ${heldBack} times, ${retried} requests retried after 503/429`);
    const l = result.enqueueToAckMs;
    console.log(l ? `enqueue-to-ACK ms: p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  max ${l.max}` : 'enqueue-to-ACK ms: no command was acked');
  }
}

const program = new Command('e2e-bench')
  .description('end-to-end commands/s and enqueue-to-ACK latency against a running stack')
  .option('--url <url>', 'dispatcher API', process.env.OUTBOUND_API_URL ?? 'http://127.0.0.1:8080')
  .option('--key <key>', 'API key (send role)', process.env.OUTBOUND_API_KEY ?? 'demo-send-key-local')
  .option('--devices <n>', 'devices SIM00001..n that are connected', int(1), 100)
  .option('--commands <n>', 'commands to send', int(1), 20_000)
  .option('--rate <n>', 'commands per second, open loop (0: as fast as the API takes them)', int(0), 0)
  .option('--batch <n>', 'commands per batch request', int(1), 500)
  .option('--concurrency <n>', 'HTTP connections for reading results', int(1), 64)
  .option('--window <n>', 'most commands accepted and not yet read back (the producer waits beyond it)', int(1), 20_000)
  .option('--json', 'one JSON line', false)
  .action((flags: Flags) => run(flags));

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
