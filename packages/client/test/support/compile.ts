import { join } from 'node:path';
import ts from 'typescript';

/**
 * tsc --strict --noEmit of one file of test/fixtures that imports the client as a user would
 * (`@outbound/client`, here its source); answers the error texts.
 */
export function compileFixture(fixture: string): string[] {
  const options: ts.CompilerOptions = {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'], types: ['node'], esModuleInterop: true, skipLibCheck: true,
    baseUrl: join(__dirname, '..', '..'), paths: { '@outbound/client': ['src/index.ts'] },
  };
  const program = ts.createProgram([join(__dirname, '..', 'fixtures', fixture)], options);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}
