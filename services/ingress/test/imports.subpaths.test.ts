import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const INGRESS = join(__dirname, '..', 'dist', 'index.js');

/** Loads `code` in a fresh node (the built packages, resolved through @outbound/core's exports) and answers what it printed. */
function inFreshNode(code: string): string {
  return execFileSync(process.execPath, ['-e', code], { cwd: join(__dirname, '..'), encoding: 'utf8' });
}

const LOADED = `const loaded = (m) => Object.keys(require.cache).some((k) => k.includes('/node_modules/' + m + '/'));`;

describe('@outbound/core subpaths (built packages, as the images run them)', () => {
  beforeAll(() => {
    if (!existsSync(INGRESS)) throw new Error(`${INGRESS} is missing: run npm run build first (npm test does)`);
  });

  it('an ingress on Redis loads no pg: its PostgreSQL registry is loaded only when configured', () => {
    const out = inFreshNode(`require(${JSON.stringify(INGRESS)}); ${LOADED} console.log(JSON.stringify({ pg: loaded('pg'), ioredis: loaded('ioredis') }));`);
    expect(JSON.parse(out)).toEqual({ pg: false, ioredis: true });
  });

  it('each subpath resolves through the exports map, and only /postgres loads pg', () => {
    const subpaths = ['protocol', 'command', 'delivery', 'queue', 'registry', 'service', 'postgres'];
    const out = inFreshNode(
      `${LOADED} const seen = {}; for (const s of ${JSON.stringify(subpaths)}) { const m = require('@outbound/core/' + s); seen[s] = { exports: Object.keys(m).length > 0, pg: loaded('pg') }; } console.log(JSON.stringify(seen));`,
    );
    expect(JSON.parse(out)).toEqual({
      protocol: { exports: true, pg: false },
      command: { exports: true, pg: false },
      delivery: { exports: true, pg: false },
      queue: { exports: true, pg: false },
      registry: { exports: true, pg: false },
      service: { exports: true, pg: false },
      postgres: { exports: true, pg: true },
    });
  });
});
