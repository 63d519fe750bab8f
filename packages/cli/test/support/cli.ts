import { runCli } from '../../src/main';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `outbound ...args` in-process: its exit code and what it printed. */
export async function cli(args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => {
    into.push(String(chunk));
    return true;
  };
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture(out));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture(err));
  try {
    const code = await runCli(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

/** What `outbound ...args` printed on stdout; rejects with its exit code and stderr when it did not exit 0. */
export async function run(args: string[]): Promise<string> {
  const result = await cli(args);
  if (result.code !== 0) throw new Error(`exit ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}
