#!/usr/bin/env node
/*
 * The dispatcher's OpenAPI document, as the build generates it from the route schemas.
 *   node scripts/openapi.js lint    lint it with Redocly (rules in redocly.yaml), offline
 *   node scripts/openapi.js write F write it to file F (JSON)
 * Reads services/dispatcher/dist: run `npm run build` first.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');

function documentText() {
  const { openApiDocument } = require(join(root, 'services/dispatcher/dist/openapi.js'));
  return `${JSON.stringify(openApiDocument, null, 2)}\n`;
}

function write(file) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, documentText());
}

function lint() {
  const file = join(root, '.cache', 'openapi.json');
  write(file);
  // No telemetry, no update check against the npm registry: lint runs the same offline.
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' };
  const cli = require.resolve('@redocly/cli/bin/cli.js');
  const run = spawnSync(process.execPath, [cli, 'lint', '--config', join(root, 'redocly.yaml'), file], { stdio: 'inherit', env });
  process.exit(run.status ?? 1);
}

const [command, arg] = process.argv.slice(2);
if (command === 'lint') lint();
else if (command === 'write' && arg) write(arg);
else {
  console.error('usage: node scripts/openapi.js lint | write <file>');
  process.exit(2);
}
