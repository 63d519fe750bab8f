#!/usr/bin/env node
/*
 * Runs before `npm test` and `npm start`: installs dependencies when they are missing or
 * older than package-lock.json, then builds (tsc -b is incremental, so this is quick when
 * nothing changed). Plain Node on purpose: it runs before anything is installed.
 */
'use strict';
const { execSync } = require('node:child_process');
const { existsSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

const marker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs)) {
  console.log('[setup] installing dependencies (npm ci)');
  run('npm ci --no-audit --no-fund');
}
console.log('[setup] building (tsc -b)');
run('npm run build --silent');
