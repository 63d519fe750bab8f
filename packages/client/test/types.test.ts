import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOpenApiDocument } from '@outbound/dispatcher';
import { compileFixture as compile } from './support/compile';

const SCRIPT = join(__dirname, '../../../scripts/openapi.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CLIENT_TYPES } = require(SCRIPT) as { CLIENT_TYPES: string };

/** The types the generator makes of this document (in a Node process of its own: openapi-typescript loads ES modules). */
function generatedTypes(document: unknown): string {
  const run = spawnSync(process.execPath, [SCRIPT, 'render'], { input: JSON.stringify(document), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openapi.js render failed: ${run.stderr}`);
  return run.stdout;
}

describe('the client types', () => {
  it('are the ones generated from the current OpenAPI document (regenerate: npm run build && npm run generate:client-types)', () => {
    expect(readFileSync(CLIENT_TYPES, 'utf8')).toBe(generatedTypes(buildOpenApiDocument()));
  }, 60_000);

  it('let a program using the client compile under strict, and catch a wrong one', () => {
    expect(compile('usage.ts')).toEqual([]);
    const errors = compile('misuse.ts');
    expect(errors.length).toBe(3);
    expect(errors.join('\n')).toMatch(/payload/);
  }, 60_000);
});
