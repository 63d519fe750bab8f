import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { buildOpenApiDocument } from '@outbound/dispatcher';

const SCRIPT = join(__dirname, '../../../scripts/openapi.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { CLIENT_TYPES } = require(SCRIPT) as { CLIENT_TYPES: string };

/** The types the generator makes of this document (in a Node process of its own: openapi-typescript loads ES modules). */
function generatedTypes(document: unknown): string {
  const run = spawnSync(process.execPath, [SCRIPT, 'render'], { input: JSON.stringify(document), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`openapi.js render failed: ${run.stderr}`);
  return run.stdout;
}

/** tsc --strict --noEmit of one fixture file that imports the client as a user would; answers the error texts. */
function compile(fixture: string): string[] {
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'], types: ['node'], esModuleInterop: true, skipLibCheck: true,
    baseUrl: join(__dirname, '..'), paths: { '@outbound/client': ['src/index.ts'] },
  };
  const program = ts.createProgram([join(__dirname, 'fixtures', fixture)], options);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
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
