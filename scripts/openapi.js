#!/usr/bin/env node
/*
 * The dispatcher's OpenAPI document, as the build generates it from the route schemas.
 *   node scripts/openapi.js lint    lint it with Redocly (rules in redocly.yaml), offline
 *   node scripts/openapi.js write F write it to file F (JSON)
 *   node scripts/openapi.js types   regenerate the client's types from it (packages/client/src/generated/openapi.ts)
 *   node scripts/openapi.js render  the client's types for the document read from stdin, on stdout
 * Reads services/dispatcher/dist: run `npm run build` first (a test checks the committed types are current).
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');
const CLIENT_TYPES = join(root, 'packages/client/src/generated/openapi.ts');

/** The client's TypeScript types for `document` (openapi-typescript), as the committed file holds them. */
async function clientTypes(document) {
  const { default: openapiTS, astToString } = require('openapi-typescript');
  const header = '/* Generated from the dispatcher\'s OpenAPI document by `node scripts/openapi.js types`; do not edit. */\n';
  return header + astToString(await openapiTS(document, { alphabetize: true, defaultNonNullable: false }));
}

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

async function types() {
  const { openApiDocument } = require(join(root, 'services/dispatcher/dist/openapi.js'));
  writeFileSync(CLIENT_TYPES, await clientTypes(openApiDocument));
}

async function render() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  process.stdout.write(await clientTypes(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
}

module.exports = { CLIENT_TYPES };

if (require.main === module) {
  const [command, arg] = process.argv.slice(2);
  if (command === 'lint') lint();
  else if (command === 'write' && arg) write(arg);
  else if (command === 'types' || command === 'render') (command === 'types' ? types() : render()).catch((error) => { console.error(error); process.exit(1); });
  else {
    console.error('usage: node scripts/openapi.js lint | write <file> | types | render');
    process.exit(2);
  }
}
