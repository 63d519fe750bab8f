import { validate, ValidationSeverity } from 'dockerfile-utils';
import { DOCKERFILE_TEXT, dockerfileStages, stageArgs, type Stage } from './dockerfile-stages';

/**
 * deploy/docker/Dockerfile, checked without a Docker engine: dockerfile-utils (the validator
 * behind VS Code's Dockerfile support) with every optional check raised to a warning, then what
 * the issue asks of each image, read from the parsed instructions.
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

test('every image builds on Node 20 slim (bookworm)', () => {
  const arg = /ARG NODE_IMAGE=(\S+)/.exec(text)?.[1];
  expect(arg).toBe('node:20-bookworm-slim');
  for (const [name, stage] of all) expect({ name, base: [...all.keys(), '${NODE_IMAGE}'].includes(stage.base) }).toEqual({ name, base: true });
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
