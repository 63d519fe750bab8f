#!/usr/bin/env node
/*
 * Runs before `npm test` and `npm start`: installs dependencies when they are missing or
 * older than package-lock.json, then builds (tsc -b is incremental, so this is quick when
 * nothing changed). With --services (npm test) it first makes sure of what the tests run
 * against: redis-server, Chromium, PostgreSQL answering on 127.0.0.1:5432 and prometheus/promtool,
 * installed with apt-get and started by scripts/ensure-services.sh (as root; otherwise it says
 * what to install). --check-services only reports what is missing (exit 1 if anything is).
 * Plain Node on purpose: it runs before anything is installed.
 */
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { missingForTests } = require('./test-services');

const root = join(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

/** One line per missing piece; empty when the machine has everything. */
function describe({ packages, notRunning }) {
  const lines = [];
  if (packages.length > 0) lines.push(`missing: ${packages.join(' ')} (install: apt-get install -y --no-install-recommends ${packages.join(' ')})`);
  if (notRunning.length > 0) lines.push(`not running: ${notRunning.join(', ')}`);
  return lines;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--check-services')) {
    const lines = describe(await missingForTests());
    for (const line of lines) console.log(`[setup] ${line}`);
    process.exit(lines.length > 0 ? 1 : 0);
  }
  if (args.includes('--services')) {
    const lines = describe(await missingForTests());
    if (lines.length > 0) {
      for (const line of lines) console.log(`[setup] ${line}`);
      console.log('[setup] running scripts/ensure-services.sh');
      try {
        run('bash scripts/ensure-services.sh');
      } catch {
        console.error('[setup] the test services are not set up (see above); install them, or run npm test as root to let it install them');
        process.exit(1);
      }
    }
  }
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)) {
    console.log('[setup] installing dependencies (npm ci)');
    run('npm ci --no-audit --no-fund');
  }
  console.log('[setup] building (tsc -b)');
  run('npm run build --silent');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
