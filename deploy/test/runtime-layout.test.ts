import { execFile, execFileSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, testRedisUrl, uniquePrefix, type TestDatabase } from '@outbound/test-support';
import { Copy } from 'dockerfile-ast';
import { ROOT } from './deploy-files';
import { dockerfileStages, stageArgs, type Stage } from './dockerfile-stages';

/**
 * The images ship only what the Dockerfile copies. Each target's files are laid out in a temp
 * directory exactly as its COPY lines put them under /app (read from the Dockerfile, not
 * restated here), then the code is run from there: a file read from anywhere else (src/, a
 * sibling checkout) fails here as it would in the image.
 */
const run = promisify(execFile);
const stages = dockerfileStages();

/** The COPY lines of `target` and of every stage it builds on, as [from, source, destination]. */
function copies(target: string): Array<{ from: string; source: string; dest: string; intoDir: boolean }> {
  const chain: Stage[] = [];
  for (let stage = stages.get(target); stage; stage = stages.get(stage.base)) chain.unshift(stage);
  const workdir = chain.flatMap((s) => stageArgs(s, 'WORKDIR')).pop() ?? '/';
  return chain.flatMap((s) => s.instructions.filter((i): i is Copy => i instanceof Copy)).map((copy) => {
    const from = copy.getFromFlag()?.getValue();
    const [source, dest] = copy.getArguments().map((a) => a.getValue());
    if (!from || !source || !dest) throw new Error(`COPY ${copy.getRawArgumentsContent()}: expected --from=<stage> <source> <destination>`);
    return { from, source, dest: posix.resolve(workdir, dest), intoDir: dest.endsWith('/') || dest === '.' };
  });
}

/**
 * Stands in for a `deps-*` stage's /out (every node_modules folder of the install): links to
 * this checkout's installed packages, and the workspace links (@outbound/*) copied as the
 * relative links npm made, so they point into the laid-out tree, not back at this checkout.
 */
function layOutNodeModules(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const stat = lstatSync(source);
    if (name.startsWith('@') && stat.isDirectory()) layOutNodeModules(source, join(to, name));
    else if (stat.isSymbolicLink()) symlinkSync(readlinkSync(source), join(to, name));
    else symlinkSync(source, join(to, name));
  }
}

/** Lays out `target` under `app` as its image's /app; answers the COPY lines it followed. */
function layOut(target: string, app: string): string[] {
  const followed: string[] = [];
  for (const { from, source, dest, intoDir } of copies(target)) {
    if (!dest.startsWith('/app')) throw new Error(`COPY to ${dest}: outside /app`);
    const into = join(app, dest.slice('/app'.length));
    if (from.startsWith('deps-')) {
      for (const dir of ['node_modules', ...['packages', 'services'].flatMap((d) => readdirSync(join(ROOT, d)).map((w) => `${d}/${w}/node_modules`))]) {
        try {
          lstatSync(join(ROOT, dir));
        } catch {
          continue;
        }
        layOutNodeModules(join(ROOT, dir), join(into, dir));
      }
    } else {
      if (!source.startsWith('/app/')) throw new Error(`COPY --from=${from} ${source}: expected a path under /app`);
      const file = join(ROOT, source.slice('/app/'.length));
      const target = intoDir ? join(into, posix.basename(source)) : into;
      mkdirSync(dirname(target), { recursive: true });
      cpSync(file, target, { recursive: true });
    }
    followed.push(`${from} ${source} -> ${dest}`);
  }
  return followed;
}

let db: TestDatabase;
let root: string;
const prefix = uniquePrefix('layout').replace(/[^a-z0-9_]/gi, '_').toLowerCase();

beforeAll(async () => {
  // The images run dist/: build it as the image's build stage does (quick when nothing changed).
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestDatabase('runtime-layout');
  root = mkdtempSync(join(tmpdir(), 'outbound-layout-'));
}, 180_000);

afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
  await db?.drop();
});

test('the dispatcher image runs both queue backends from what it ships, and the CLI image migrates a queue', async () => {
  const dispatcher = join(root, 'dispatcher');
  expect(layOut('dispatcher', dispatcher)).toEqual(expect.arrayContaining([expect.stringMatching(/services\/dispatcher\/dist/)]));
  // The runner sits beside the service's code, so it resolves @outbound/core as the service does.
  const runner = join(dispatcher, 'services/dispatcher/run-queues.js');
  cpSync(join(__dirname, 'runtime-layout/run-queues.js'), runner);
  const { stdout } = await run(process.execPath, [runner, testRedisUrl(), db.url, prefix], { cwd: dispatcher, timeout: 60_000 });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
    core: string; pending: string;
    redis: { enqueued: string; claimed: string; acked: string };
    postgres: { enqueued: string; claimed: string; acked: string };
  };
  expect(realpathSync(report.core).startsWith(realpathSync(dispatcher))).toBe(true);
  for (const backend of [report.redis, report.postgres]) {
    expect(backend.claimed).toBe(backend.enqueued);
    expect(backend.acked).toBe('acked');
  }

  const cli = join(root, 'cli');
  layOut('cli', cli);
  const main = JSON.parse(stageArgs(stages.get('cli')!, 'ENTRYPOINT')[0]!) as string[];
  const moved = await run(main[0] === 'node' ? process.execPath : main[0]!, [
    ...main.slice(1), 'migrate-queue', '--from', 'postgres', '--to', 'redis',
    '--database-url', db.url, '--redis-url', testRedisUrl(), '--prefix', prefix, '--json',
  ], { cwd: cli, timeout: 60_000 });
  const migrated = JSON.parse(moved.stdout.trim().split('\n').pop()!) as { read: number; written: number };
  expect({ read: migrated.read, written: migrated.written }).toEqual({ read: 1, written: 1 });
}, 120_000);

test('the CLI image carries no bench: no bench code, no BullMQ among its dependencies, and `outbound bench` says where the bench is', async () => {
  const cli = join(root, 'cli-bench');
  layOut('cli', cli);
  const shipped = readdirSync(cli, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(cli, join(entry.parentPath, entry.name)))
    .filter((file) => !file.split('/').includes('node_modules'));
  expect(shipped).toContain('packages/cli/dist/main.js');
  expect(shipped.filter((file) => /(^|\/)(tools|bench|chaos)\//.test(file))).toEqual([]);
  expect(shipped.filter((file) => file.endsWith('.js') && /require\(["']bullmq["']\)/.test(readFileSync(join(cli, file), 'utf8')))).toEqual([]);

  // The deps stage installs one workspace's production dependencies; npm ls names that tree here.
  const workspace = /-w (\S+)/.exec(stageArgs(stages.get('deps-cli')!, 'RUN').join(' '))![1]!;
  const tree = execFileSync('npm', ['ls', '-w', workspace, '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter(Boolean).map((path) => relative(ROOT, path));
  expect(tree).toEqual(expect.arrayContaining(['node_modules/@outbound/core', 'node_modules/commander']));
  expect(tree.filter((path) => /(^|\/)(bullmq|vega|vega-lite|@outbound\/bench)$/.test(path))).toEqual([]);

  const main = JSON.parse(stageArgs(stages.get('cli')!, 'ENTRYPOINT')[0]!) as string[];
  const bench = run(main[0] === 'node' ? process.execPath : main[0]!, [...main.slice(1), 'bench', '--quick'], { cwd: cli, timeout: 60_000 });
  await expect(bench).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('run `npm run bench` from a checkout') });
}, 60_000);
