#!/usr/bin/env node
/*
 * Copies the store files that code reads at run time (*.sql, *.lua under a workspace's src/)
 * into its dist/, at the same relative path, so `path.join(__dirname, 'sql', ...)` finds them
 * both from src/ (ts-jest) and from dist/ (node, and the images, which ship dist/ only).
 * tsc copies no files but .ts output; `npm run build` runs this after `tsc -b`.
 * It also removes compiled output whose source is gone: tsc -b never deletes, and a stale
 * dist/command.js left by an older build shadows a newer dist/command/index.js for require().
 * Plain Node on purpose: the image's build stage runs it with nothing else installed.
 */
'use strict';
const { cpSync, existsSync, readdirSync, rmSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const WORKSPACES = ['packages/core', 'packages/cli', 'services/ingress', 'services/dispatcher', 'tools/bench'];
const ASSET = /\.(sql|lua)$/;

/** Every asset file under `dir`, as paths relative to it. */
function assets(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && ASSET.test(entry.name))
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)));
}

let copied = 0;
for (const workspace of WORKSPACES) {
  const src = join(root, workspace, 'src');
  if (!existsSync(src)) continue;
  for (const file of assets(src)) {
    cpSync(join(src, file), join(root, workspace, 'dist', file));
    copied += 1;
  }
}
/** dist/x.js (.d.ts, .map) without src/x.ts: output of a source file since removed or moved. */
function stale(src, dist) {
  if (!existsSync(dist)) return [];
  return readdirSync(dist, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dist, join(entry.parentPath ?? entry.path, entry.name)))
    .filter((file) => {
      const stem = /^(.*)\.(?:js|d\.ts)(?:\.map)?$/.exec(file)?.[1];
      // dist/console/ is the console bundle (scripts/build-console.js), not tsc output.
      return stem !== undefined && !stem.startsWith('console/') && !existsSync(join(src, `${stem}.ts`));
    });
}

let removed = 0;
for (const workspace of WORKSPACES) {
  const src = join(root, workspace, 'src');
  if (!existsSync(src)) continue;
  for (const file of stale(src, join(root, workspace, 'dist'))) {
    rmSync(join(root, workspace, 'dist', file));
    removed += 1;
  }
}
console.log(`[build] copied ${copied} store files from src/ into dist/${removed ? `; removed ${removed} stale outputs` : ''}`);
