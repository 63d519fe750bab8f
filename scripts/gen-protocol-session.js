#!/usr/bin/env node
/*
 * Regenerates the example session hex dump in docs/protocol.md from the real encoder
 * (packages/core/src/protocol/example-session.ts, built to dist). Run after `npm run build`:
 *   node scripts/gen-protocol-session.js          rewrite the dump in place
 *   node scripts/gen-protocol-session.js --check  exit 1 when the document is stale
 * packages/core/test/protocol/protocol-doc.test.ts runs the same comparison in `npm test`.
 */
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { withExampleSession } = require('../packages/core/dist/protocol/example-session');

const docPath = join(__dirname, '..', 'docs', 'protocol.md');
const current = readFileSync(docPath, 'utf8');
const generated = withExampleSession(current);
if (process.argv.includes('--check')) {
  if (generated !== current) {
    console.error('docs/protocol.md: the session dump is stale; run node scripts/gen-protocol-session.js');
    process.exit(1);
  }
  console.log('docs/protocol.md: session dump is current');
} else if (generated !== current) {
  writeFileSync(docPath, generated);
  console.log('docs/protocol.md: session dump regenerated');
} else {
  console.log('docs/protocol.md: session dump already current');
}
