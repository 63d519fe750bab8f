/**
 * Client CPU of the pieces every enqueued command goes through before its Redis call: the
 * queue layer's input check, the device's shard (FNV-1a of its phyId, twice per command) and
 * the v3 record body. Runs each piece over the queue core's 1,000 commands (core-inputs.ts),
 * 20 times a round, and prints the median µs per command of 36 rounds (5 warm-up rounds
 * before them are dropped). No Redis: on a shared host this is steadier than a whole run.
 *
 *   npm run build && node tools/bench/dist/bench/enqueue-client-pieces.js
 *
 * BENCH_COMPARE=<another checkout, built> loads its packages/core/dist too and runs the two in
 * turn, round by round (the order swapped every round), so both see the same load.
 */
import { join, resolve } from 'node:path';
import { coreInputs } from './core-inputs';

interface Pieces {
  checkEnqueueInput(input: unknown): unknown;
  fnv1a32(text: string): number;
  packBody(input: unknown, fingerprint: string): Buffer;
}

function load(dist: string): Pieces {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const schema = require(join(dist, 'command/schema')) as Pick<Pieces, 'checkEnqueueInput'>;
  const keys = require(join(dist, 'queue/redis/keys')) as Pick<Pieces, 'fnv1a32'>;
  const records = require(join(dist, 'queue/redis-v3/records-v3')) as Pick<Pieces, 'packBody'>;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { checkEnqueueInput: schema.checkEnqueueInput, fnv1a32: keys.fnv1a32, packBody: records.packBody };
}

const inputs = coreInputs(1_000, 1_000);
const CASES: Record<string, (p: Pieces) => void> = {
  'input check': (p) => {
    for (const input of inputs) if (p.checkEnqueueInput(input) !== null) throw new Error('a core input failed the check');
  },
  'shard of phyId': (p) => {
    let sum = 0;
    for (const input of inputs) sum += p.fnv1a32(input.phyId) % 16;
    if (sum < 0) throw new Error('unreachable');
  },
  'v3 record body': (p) => {
    for (const input of inputs) p.packBody(input, '');
  },
};
const ROUNDS = 41;
const WARM = 5;
const REPEAT = 20;

function usPerCommand(pieces: Pieces, run: (p: Pieces) => void): number {
  const before = process.cpuUsage();
  for (let k = 0; k < REPEAT; k++) run(pieces);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (REPEAT * inputs.length);
}

function median(values: number[]): number {
  const sorted = values.slice(WARM).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const builds: Array<[string, Pieces]> = [['this build', load(resolve(__dirname, '../../../../packages/core/dist'))]];
if (process.env.BENCH_COMPARE) builds.push([process.env.BENCH_COMPARE, load(resolve(process.env.BENCH_COMPARE, 'packages/core/dist'))]);
console.log(`| piece | ${builds.map(([name]) => `${name} µs/command`).join(' | ')} |`);
console.log(`|---|${builds.map(() => '---:').join('|')}|`);
for (const [name, run] of Object.entries(CASES)) {
  const times = builds.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => i).reverse();
    for (const i of order) times[i]!.push(usPerCommand(builds[i]![1], run));
  }
  console.log(`| ${name} | ${times.map((t) => median(t).toFixed(3)).join(' | ')} |`);
}
