#!/usr/bin/env node
/**
 * End-to-end benchmark against a running stack (public API → dispatcher → ingress → devices).
 * Enqueues N commands over the API to devices SIM00001.., then reads every command back and
 * reports commands/s and enqueue-to-ACK percentiles from the stored timestamps (createdAt and
 * updatedAt are both taken from the store's clock, so client delays do not enter them).
 *
 *   STACK_RATE=0 STACK_ACK_LATENCY=0 STACK_REJECT_RATE=0 STACK_BUSY_RATE=0 npm start   # terminal 1
 *   node packages/cli/dist/bench/e2e-bench.js --commands 20000                              # terminal 2 (throughput)
 *   node packages/cli/dist/bench/e2e-bench.js --commands 5000 --rate 1000                   # latency below saturation
 */
import { Command, InvalidArgumentError } from 'commander';
import { Pool } from 'undici';
import { LatencyRecorder } from '@outbound/cli';

interface Flags { url: string; key: string; devices: number; commands: number; rate: number; batch: number; concurrency: number; json: boolean }
interface View { id: string; status: string; createdAt: string; updatedAt: string }

const int = (min: number) => (text: string) => {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return v;
};

async function call<T>(pool: Pool, key: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await pool.request({
    method, path,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 120_000, bodyTimeout: 120_000,
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** Runs `work` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function run(flags: Flags): Promise<void> {
  const pool = new Pool(flags.url, { connections: flags.concurrency });
  const payload = Buffer.from('bench').toString('base64');
  const ids: string[] = [];
  const batches: Array<Array<{ phyId: string; payload: string }>> = [];
  for (let i = 0; i < flags.commands; i += flags.batch) {
    batches.push(Array.from({ length: Math.min(flags.batch, flags.commands - i) }, (_, j) => ({ phyId: `SIM${String(((i + j) % flags.devices) + 1).padStart(5, '0')}`, payload })));
  }
  const started = Date.now();
  let sent = 0;
  await eachLimited(batches, flags.rate > 0 ? 1 : 4, async (commands) => {
    if (flags.rate > 0) {
      // Open loop: batch k leaves at k * batch / rate seconds, whatever the answers do.
      const due = started + (sent / flags.rate) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    sent += commands.length;
    const answer = await call<{ results: Array<{ id?: string }> }>(pool, flags.key, 'POST', '/v1/commands/batch', { commands });
    for (const r of answer.results) if (r.id) ids.push(r.id);
  });
  const enqueueSeconds = (Date.now() - started) / 1000;

  // Folded as the answers arrive: a million commands never become an array of views (nor a
  // spread of one into Math.min, which overflows the stack).
  const latencies = new LatencyRecorder();
  const statuses: Record<string, number> = {};
  let acked = 0;
  let first = Infinity;
  let last = -Infinity;
  await eachLimited(ids, flags.concurrency, async (id) => {
    const view = await call<View>(pool, flags.key, 'GET', `/v1/commands/${id}?waitMs=30000`);
    statuses[view.status] = (statuses[view.status] ?? 0) + 1;
    if (view.status !== 'acked') return;
    const created = Date.parse(view.createdAt);
    const updated = Date.parse(view.updatedAt);
    acked += 1;
    latencies.recordMs(updated - created);
    first = Math.min(first, created);
    last = Math.max(last, updated);
  });
  await pool.close();

  const { p50, p95, p99, max } = latencies.summary();
  const result = {
    commands: flags.commands,
    accepted: ids.length,
    statuses,
    devices: flags.devices,
    offeredRate: flags.rate || 'max',
    enqueueSeconds: Number(enqueueSeconds.toFixed(2)),
    commandsPerSecond: acked === 0 ? 0 : Math.round(acked / Math.max(0.001, (last - first) / 1000)),
    enqueueToAckMs: acked === 0 ? null : { p50, p95, p99, max },
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`accepted ${result.accepted}/${result.commands}  statuses ${JSON.stringify(statuses)}  offered ${result.offeredRate}/s`);
    console.log(`end to end: ${result.commandsPerSecond} commands/s (first enqueue to last ACK)`);
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
  .option('--json', 'one JSON line', false)
  .action((flags: Flags) => run(flags));

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
