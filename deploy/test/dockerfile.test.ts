import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { DOCKERFILE_TEXT, dockerfileStages, stageArgs, type Stage } from './dockerfile-stages';

/**
 * deploy/docker/Dockerfile, checked without a Docker engine: dockerfile-utils (the validator
 * behind VS Code's Dockerfile support) with every optional check raised to a warning, then what
 * each image must do, read from the parsed instructions.
 */
const text = DOCKERFILE_TEXT;
const W = ValidationSeverity.WARNING;
const STRICT = {
  deprecatedMaintainer: W, directiveCasing: W, emptyContinuationLine: W, instructionCasing: W, instructionCmdMultiple: W,
  instructionEntrypointMultiple: W, instructionHealthcheckMultiple: W, instructionJSONInSingleQuotes: W, instructionWorkdirRelative: W,
};

const all = dockerfileStages(text);
const args = stageArgs;

/** A runtime target's instructions including those of the stages it builds on. */
function chain(name: string): Stage[] {
  const out: Stage[] = [];
  for (let stage = all.get(name); stage; stage = all.get(stage.base)) out.unshift(stage);
  return out;
}

test('dockerfile-utils reports nothing, and reports a broken Dockerfile (so a pass means something)', () => {
  expect(validate(text, STRICT)).toEqual([]);
  const broken = text.replace('HEALTHCHECK --interval=10s', 'HEALTHCHECK --intervall=10s').replace('EXPOSE 8080', 'EXPOSE http');
  expect(validate(broken, STRICT).map((d) => d.message)).toEqual(expect.arrayContaining(['Unknown flag: intervall', 'Invalid containerPort: http']));
});

/** The Node versions the project says it runs on: root package.json `engines.node`, a lower bound like `>=20.19.0`. */
const ENGINES = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

/** [major, minor, patch] of a lower bound `>=X[.Y[.Z]]`, the only form engines may take here. */
function lowerBound(range: string): number[] {
  const match = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!match) throw new Error(`engines.node ${JSON.stringify(range)} is not a lower bound like ">=20.19.0"`);
  return match.slice(1).map((part) => Number(part ?? 0));
}

test('every image builds on one Node LTS slim image, at or above the engines floor of every workspace', () => {
  const arg = /ARG NODE_IMAGE=(\S+)/.exec(text)?.[1] ?? '';
  const image = /^node:(\d+)-[a-z]+-slim$/.exec(arg);
  expect({ arg, slim: image !== null }).toEqual({ arg, slim: true });
  const major = Number(image![1]);
  // Even majors become LTS; an odd one never does and is out of support within months.
  expect({ major, lts: major % 2 === 0 }).toEqual({ major, lts: true });
  // The image's Node is one the project admits: its major is at least the engines floor's.
  expect(major).toBeGreaterThanOrEqual(lowerBound(ENGINES)[0]!);
  for (const [name, stage] of all) expect({ name, base: [...all.keys(), '${NODE_IMAGE}'].includes(stage.base) }).toEqual({ name, base: true });
});

test('every workspace declares the same engines as the root', () => {
  const root = join(__dirname, '..', '..');
  const workspaces = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  for (const workspace of workspaces) {
    const engines = (JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node;
    expect({ workspace, engines }).toEqual({ workspace, engines: ENGINES });
  }
});

test('the engines check refuses what it should (so a pass means something)', () => {
  expect(lowerBound('>=20.19.0')).toEqual([20, 19, 0]);
  expect(() => lowerBound('^20 || ^26')).toThrow(/not a lower bound/);
});

describe.each([
  ['ingress', 'services/ingress', true],
  ['dispatcher', 'services/dispatcher', true],
  ['cli', 'packages/cli', false],
])('target %s', (target, workspace, serves) => {
  const stagesOf = chain(target);
  const own = all.get(target)!;

  test('runs as a numeric non-root user, exec-form start command', () => {
    const user = args(own, 'USER').pop();
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    const start = [...args(own, 'ENTRYPOINT'), ...args(own, 'CMD')];
    expect(start.length).toBeGreaterThan(0);
    for (const form of start) expect(Array.isArray(JSON.parse(form))).toBe(true);
    expect(JSON.parse(args(own, 'ENTRYPOINT')[0] ?? args(own, 'CMD')[0]!)).toEqual(['node', `${workspace}/dist/main.js`]);
  });

  test('has a HEALTHCHECK on /healthz (servers) or says NONE (the CLI)', () => {
    const check = args(own, 'HEALTHCHECK');
    expect(check).toHaveLength(1);
    if (serves) expect(check[0]).toMatch(/CMD \["node", "-e", ".*\/healthz/);
    else expect(check[0]).toBe('NONE');
  });

  test('copies built output and production dependencies only', () => {
    const copies = stagesOf.flatMap((s) => s.instructions.filter((i) => i.getKeyword() === 'COPY'));
    const lines = text.split('\n');
    const copyLines = copies.map((copy) => lines[copy.getRange().start.line]!.replace(/^COPY\s+/, ''));
    for (const raw of copyLines) {
      expect(raw).toMatch(/^--from=\S+ /);
      const source = raw.split(/\s+/)[1]!;
      expect({ source, allowed: /(\/dist|\/lua|\/migrations|package\.json|^\/out\/)$/.test(source) }).toEqual({ source, allowed: true });
    }
    const depsStage = /--from=(deps-\S+)/.exec(copyLines.join(' '))![1]!;
    const install = args(all.get(depsStage)!, 'RUN').join(' ');
    expect(install).toContain(`npm ci --omit=dev --no-audit --no-fund -w ${workspace}`);
  });
});

test('the build stage bundles the operator console into the dispatcher dist/ that its image copies', () => {
  const build = args(all.get('build')!, 'RUN').join(' ');
  expect(build).toContain('node scripts/build-console.js');
  const copies = args(all.get('build')!, 'COPY').join(' ');
  expect(copies).toContain('scripts/build-console.js');
  // The console's sources are inside the workspace folder the build stage copies.
  expect(copies).toContain('services/dispatcher services/dispatcher');
  expect(args(all.get('dispatcher')!, 'COPY')).toContain('/app/services/dispatcher/dist services/dispatcher/dist');
});

test('no stage copies tools/: the benchmark and chaos runner (with BullMQ) run from a checkout, in no image', () => {
  const sources = [...all.values()].flatMap((stage) => stage.instructions.filter((i) => i.getKeyword() === 'COPY'))
    .flatMap((copy) => copy.getArguments().slice(0, -1).map((a) => a.getValue()));
  expect(sources).toContain('packages/cli');
  expect(sources.filter((source) => /(^|\/)tools(\/|$)/.test(source))).toEqual([]);
  expect(args(all.get('build')!, 'RUN').join(' ')).not.toMatch(/tools\/bench/);
});
