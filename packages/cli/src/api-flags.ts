import { Option, type Command } from 'commander';
import { OutboundClient, type CommandStatus } from '@outbound/client';

/** What the `outbound` command exits with; `outbound --help` lists them. */
export const EXIT_CODES = {
  /** Done (with --wait: the command was acked). */
  ok: 0,
  /** The API refused the request or could not be reached. */
  failed: 1,
  /** Unknown option, missing or invalid argument, payload not in its encoding. */
  usage: 2,
  /** With --wait: the device rejected the command. */
  rejected: 3,
  /** With --wait: the command is dead, expired or cancelled; it will not be delivered. */
  notDelivered: 4,
  /** With --wait: the wait ran out while the command is still queued or in flight. */
  pending: 5,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  done (with --wait: the command was acked)
  1  the API refused the request or could not be reached (the error names its code)
  2  usage error: unknown option, missing or invalid argument, payload not in its --encoding
  3  with --wait: the device rejected the command
  4  with --wait: the command is dead, expired or cancelled (it will not be delivered)
  5  with --wait: the wait ran out while the command is still queued or in flight
With --json, an error is printed on stdout as {"error": {"code", "message", ...}}.
`;

/** The caller got the command wrong: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Ends the command with this exit code once its output is printed. */
export class ExitWith extends Error {
  constructor(readonly code: number) {
    super(`exit code ${code}`);
  }
}

/** The exit code of a command's state after a wait. */
export function exitCodeOf(status: CommandStatus): number {
  switch (status) {
    case 'acked': return EXIT_CODES.ok;
    case 'rejected': return EXIT_CODES.rejected;
    case 'dead': case 'expired': case 'cancelled': return EXIT_CODES.notDelivered;
    default: return EXIT_CODES.pending;
  }
}

/** Adds --url, --key and --json to a command (OUTBOUND_API_URL and OUTBOUND_API_KEY by default). */
export function withApiOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'dispatcher API base URL').env('OUTBOUND_API_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--key <key>', 'API key').env('OUTBOUND_API_KEY'))
    .option('--json', 'print the raw JSON answer (and errors as JSON, on stdout)', false);
}

export interface ApiFlags {
  url: string;
  key?: string;
  json: boolean;
}

/** A client for the flags' dispatcher and key (a usage error without a key). */
export function clientFor(flags: ApiFlags): OutboundClient {
  if (!flags.key) throw new UsageError('an API key is required: pass --key or set OUTBOUND_API_KEY');
  return new OutboundClient({ baseUrl: flags.url, apiKey: flags.key });
}

/** Prints one answer as JSON (--json) or as `human` text. */
export function print<T>(flags: ApiFlags, value: T, human: (value: T) => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
}

/** Runs `work` with a client and prints its answer as JSON or as `human` text. */
export async function withClient<T>(flags: ApiFlags, work: (client: OutboundClient) => Promise<T>, human: (value: T) => string): Promise<T> {
  const value = await work(clientFor(flags));
  print(flags, value, human);
  return value;
}
