#!/usr/bin/env node
/*
 * Long wire-fuzz runs against the built ingress:
 *   npm run fuzz -- --frames 1000000 [--seed 42]
 * Runs services/ingress/test/wire-fuzz.test.ts (the same cases and checks as the 20,000-frame
 * run in `npm test`) with more frames and the given seed; a failure prints the seed and the
 * case index, and the same seed replays it.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({ options: { frames: { type: 'string', default: '20000' }, seed: { type: 'string', default: '20261201' } } });
const frames = Number(values.frames);
const seed = Number(values.seed);
if (!Number.isInteger(frames) || frames < 1) throw new Error(`--frames must be a positive integer, got ${values.frames}`);
if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);

const root = join(__dirname, '..');
const result = spawnSync('npx', ['jest', '--runInBand', 'services/ingress/test/wire-fuzz.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    OUTBOUND_FUZZ_FRAMES: String(frames),
    OUTBOUND_FUZZ_SEED: String(seed),
    // About 3,000 frames a second on a 2-core machine, with a generous margin.
    OUTBOUND_FUZZ_TIMEOUT_MS: String(60_000 + Math.ceil(frames / 500) * 1_000),
  },
});
process.exit(result.status ?? 1);
