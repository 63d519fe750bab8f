import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './child-processes';
import { median } from './stats';

/**
 * The ingress's socket-path CPU per frame (`npm run build && npm run bench:socket`; bench/README.md,
 * "Socket path CPU per frame"): what the device codec costs for each command, outside any
 * socket or store, so a change to it is seen without the noise of a whole pipeline.
 *
 * - `encode COMMAND`: one COMMAND frame (16-byte id, 32-byte payload) built from the id text, as
 *   each delivery is written.
 * - `decode ACK (coalesced)`: ACKs arriving 64 to a read, as a busy device's answers do: the
 *   decoder's push, the ACK body decoded, and its id looked up among 4,096 waiting deliveries.
 * - `decode ACK (split)`: the same with every ACK split across two reads (the header's first
 *   3 bytes, then the rest), the decoder's slow path.
 *
 * Each round runs every build in a fresh process (`node socket-path.js --worker <root>`), in
 * alternating order, and reads its CPU time (user + system) around each case after a warm-up;
 * the table gives the medians over the rounds. `BENCH_BASE=<repo root>` adds a second built tree
 * (e.g. a checkout of main) measured in the same rounds.
 *
 * Env: BENCH_FRAMES (default 1,000,000 per case and round), BENCH_ROUNDS (5), BENCH_BASE.
 */
const FRAMES = Number(process.env.BENCH_FRAMES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BASE = process.env.BENCH_BASE;

const CASES = ['encode COMMAND', 'decode ACK (coalesced)', 'decode ACK (split)'] as const;
type CaseName = (typeof CASES)[number];
type Result = Record<CaseName, number>;

interface Codec {
  encodeCommand(id: string, payload: Buffer): Buffer;
  encodeAck(id: string, status: number, result?: Buffer): Buffer;
  decodeAck(body: Buffer): { id: string; status: number; result: Buffer };
  FrameDecoder: new (options?: { maxFrameBytes?: number }) => { push(chunk: Buffer): Array<{ type: number; body: Buffer }> };
}

/** CPU µs per unit of `run(units)`, after one untimed warm-up run of a tenth. */
function cpuPerUnit(units: number, run: (units: number) => number): number {
  run(Math.max(1, Math.floor(units / 10)));
  const start = process.cpuUsage();
  const sink = run(units);
  const used = process.cpuUsage(start);
  if (Number.isNaN(sink)) throw new Error('unreachable: keeps the work from being optimised away');
  return (used.user + used.system) / units;
}

function measure(root: string): Result {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const codec = require(join(root, 'packages', 'core', 'dist', 'protocol', 'index.js')) as Codec;
  const ids = Array.from({ length: 4096 }, () => randomUUID());
  const pending = new Map<string, number>(ids.map((id, i) => [id, i]));
  const payload = Buffer.alloc(32, 7);
  const perChunk = 64;
  const acks = ids.map((id) => codec.encodeAck(id, 0));
  // Chunks of 64 consecutive ACKs, as the kernel hands a busy device's answers over.
  const coalesced = Array.from({ length: ids.length / perChunk }, (_, c) => Buffer.concat(acks.slice(c * perChunk, (c + 1) * perChunk)));
  const split = acks.flatMap((ack) => [ack.subarray(0, 3), ack.subarray(3)]);

  const decodeChunks = (chunks: Buffer[], framesPerChunk: number) => (units: number): number => {
    const decoder = new codec.FrameDecoder();
    let sum = 0;
    const reads = Math.ceil(units / framesPerChunk);
    for (let r = 0; r < reads; r++) {
      const frames = decoder.push(chunks[r % chunks.length]!);
      for (let f = 0; f < frames.length; f++) sum += pending.get(codec.decodeAck(frames[f]!.body).id) ?? 0;
    }
    return sum;
  };
  return {
    'encode COMMAND': cpuPerUnit(FRAMES, (units) => {
      let sum = 0;
      for (let i = 0; i < units; i++) sum += codec.encodeCommand(ids[i & 4095]!, payload).length;
      return sum;
    }),
    'decode ACK (coalesced)': cpuPerUnit(FRAMES, decodeChunks(coalesced, perChunk)),
    // Two reads make one frame: push counts reads, so twice the frames' count of them.
    'decode ACK (split)': cpuPerUnit(FRAMES, (units) => decodeChunks(split, 0.5)(units)),
  };
}

async function main(): Promise<void> {
  const builds: Array<[string, string]> = [['this', REPO_ROOT], ...(BASE ? [['base', BASE] as [string, string]] : [])];
  const results = new Map<string, Result[]>();
  const run = promisify(execFile);
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? builds : [...builds].reverse();
    for (const [name, root] of order) {
      const { stdout } = await run(process.execPath, [__filename, '--worker', root], { env: process.env, maxBuffer: 1 << 20 });
      const result = JSON.parse(stdout) as Result;
      results.set(name, [...(results.get(name) ?? []), result]);
      console.log(`round ${round} ${name}: ${CASES.map((c) => `${c} ${result[c].toFixed(3)}`).join(', ')} µs/frame`);
    }
  }
  console.log(`\nmedians of ${ROUNDS} rounds (${FRAMES} frames per case and round; CPU µs per frame, one process per build and round):`);
  console.log(`| case | ${builds.map(([name]) => name).join(' | ')} |\n|---|${builds.map(() => '---:').join('|')}|`);
  for (const c of CASES) console.log(`| ${c} | ${builds.map(([name]) => median(results.get(name)!.map((r) => r[c])).toFixed(3)).join(' | ')} |`);
}

if (process.argv[2] === '--worker') {
  process.stdout.write(JSON.stringify(measure(process.argv[3] ?? REPO_ROOT)));
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
