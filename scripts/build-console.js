#!/usr/bin/env node
/*
 * Bundles the operator console (services/dispatcher/console/, Preact + TSX) with esbuild into
 * services/dispatcher/dist/console/: index.html plus content-hashed assets/*.js and *.css, so
 * the dispatcher serves it with nothing fetched at run time. `npm run build` runs it after
 * `tsc -b` (which type-checks the console sources); it prints the bundle's size, which must stay
 * well under 1 MB. Plain Node plus esbuild: the image's build stage runs it too.
 */
'use strict';
const { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { basename, join, relative } = require('node:path');
const esbuild = require('esbuild');

const root = join(__dirname, '..');
const source = join(root, 'services/dispatcher/console');
const out = join(root, 'services/dispatcher/dist/console');

async function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(source, 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => join(root, file));
  const script = outputs.find((file) => file.endsWith('.js'));
  const style = outputs.find((file) => file.endsWith('.css'));
  if (!script || !style) throw new Error('the console bundle lacks its script or its stylesheet');
  const html = readFileSync(join(source, 'index.html'), 'utf8')
    .replace('%SCRIPT%', `/console/assets/${basename(script)}`)
    .replace('%STYLE%', `/console/assets/${basename(style)}`);
  writeFileSync(join(out, 'index.html'), html);
  const files = [...outputs, join(out, 'index.html')];
  const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
  console.log(`[build] console: ${files.map((file) => relative(out, file)).join(', ')} (${(bytes / 1024).toFixed(1)} KiB)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
