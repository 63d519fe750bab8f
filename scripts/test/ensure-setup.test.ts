import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@outbound/test-support';

/**
 * `npm test` sets up its own machine (pretest: scripts/ensure-setup.js --services). These run
 * its detection and the installer script on a PATH that holds only what is linked into a temp
 * directory, as on a machine with nothing but Node.
 */
const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
let bin: string;

beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'outbound-bare-path-'));
  chmodSync(bin, 0o755);
  for (const tool of ['bash', 'id', 'ls']) symlinkSync(join('/usr/bin', tool), join(bin, tool));
  symlinkSync(process.execPath, join(bin, 'node'));
});

afterAll(() => rmSync(bin, { recursive: true, force: true }));

/** Exit code and output of a command that may fail. */
async function outcome(file: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number }): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: ROOT, timeout: 30_000, ...options });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('on a machine with only Node, the test set-up names every package to install and the server to start', async () => {
  const port = await freePort();
  const result = await outcome(process.execPath, ['scripts/ensure-setup.js', '--check-services'], {
    env: { PATH: bin, OUTBOUND_PG_LIB: join(bin, 'no-postgresql'), OUTBOUND_TEST_PG_URL: `postgres://postgres@127.0.0.1:${port}/postgres` },
  });
  expect(result.code).toBe(1);
  expect(result.output).toContain('missing: redis-server chromium postgresql prometheus (install: apt-get install -y --no-install-recommends redis-server chromium postgresql prometheus)');
  expect(result.output).toContain(`not running: PostgreSQL on 127.0.0.1:${port}`);
});

test('on this machine (set up by npm test) nothing is missing', async () => {
  const result = await outcome(process.execPath, ['scripts/ensure-setup.js', '--check-services'], { env: process.env });
  expect(result).toEqual({ code: 0, output: '' });
});

test('without root, the installer says what to install instead of installing', async () => {
  // As root, run it as nobody: apt-get must not run.
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  // The script's text goes in -c and the run starts in the temp directory: nobody may not read this checkout.
  const script = readFileSync(join(ROOT, 'scripts/ensure-services.sh'), 'utf8');
  const result = await outcome(join(bin, 'bash'), ['-c', script], { env: { PATH: bin }, cwd: bin, ...asNobody });
  expect(result.code).toBe(1);
  expect(result.output).toMatch(/missing: redis-server chromium (postgresql )?prometheus; run as root: apt-get install -y --no-install-recommends redis-server chromium (postgresql )?prometheus/);
});
