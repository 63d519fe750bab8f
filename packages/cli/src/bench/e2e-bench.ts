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

interface Flags { url: string; key: string; devices: number; commands: number; rate: number; batch: number; concurrency: number; json: boolean }
interface View { id: string; status: string; createdAt: string; updatedAt: string }

const int = (min: number) => (text: string) => {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return v;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

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

  const views: View[] = [];
  await eachLimited(ids, flags.concurrency, async (id) => {
    views.push(await call<View>(pool, flags.key, 'GET', `/v1/commands/${id}?waitMs=30000`));
  });
  await pool.close();

  const acked = views.filter((v) => v.status === 'acked');
  const latencies = acked.map((v) => Date.parse(v.updatedAt) - Date.parse(v.createdAt)).sort((a, b) => a - b);
  const first = Math.min(...acked.map((v) => Date.parse(v.createdAt)));
  const last = Math.max(...acked.map((v) => Date.parse(v.updatedAt)));
  const statuses: Record<string, number> = {};
  for (const v of views) statuses[v.status] = (statuses[v.status] ?? 0) + 1;
  const result = {
    commands: flags.commands,
    accepted: ids.length,
    statuses,
    devices: flags.devices,
    offeredRate: flags.rate || 'max',
    enqueueSeconds: Number(enqueueSeconds.toFixed(2)),
    commandsPerSecond: Math.round(acked.length / Math.max(0.001, (last - first) / 1000)),
    enqueueToAckMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN },
  };
  if (flags.json) console.log(JSON.stringify(result));
  else {
    console.log(`accepted ${result.accepted}/${result.commands}  statuses ${JSON.stringify(statuses)}  offered ${result.offeredRate}/s`);
    console.log(`end to end: ${result.commandsPerSecond} commands/s (first enqueue to last ACK)`);
    console.log(`enqueue-to-ACK ms: p50 ${result.enqueueToAckMs.p50}  p90 ${result.enqueueToAckMs.p90}  p99 ${result.enqueueToAckMs.p99}  max ${result.enqueueToAckMs.max}`);
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
