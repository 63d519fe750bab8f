import { Agent, request } from 'undici';
import { Option, type Command } from 'commander';

/**
 * The public API answered an error: RFC 9457 problem details, `{type, title, status, detail,
 * code, errors?}`. `details` holds the field errors (`errors`) when there are some.
 */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown, readonly retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiClientOptions {
  /** Base URL of a dispatcher, e.g. http://127.0.0.1:8080. */
  url: string;
  /** An API key (send or admin role). */
  key: string;
  timeoutMs?: number;
}

/** A small client of the dispatcher's public API (keep-alive, JSON in and out, coded errors). */
export class ApiClient {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(private readonly options: ApiClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.agent = new Agent({ keepAliveTimeout: 10_000 });
  }

  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, extraWaitMs = 0): Promise<{ status: number; body: T }> {
    const timeout = (this.options.timeoutMs ?? 30_000) + extraWaitMs;
    let response;
    try {
      response = await request(`${this.base}${path}`, {
        method,
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${this.options.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (error) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach the dispatcher at ${this.base}: ${(error as Error).message}`);
    }
    const text = await response.body.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.statusCode >= 400) {
      const problem = parsed as { code?: string; detail?: string; title?: string; errors?: unknown } | undefined;
      const retryAfter = Number(response.headers['retry-after']);
      throw new ApiError(
        response.statusCode,
        problem?.code ?? `HTTP_${response.statusCode}`,
        problem?.detail ?? problem?.title ?? text.slice(0, 200),
        problem?.errors,
        Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    }
    return { status: response.statusCode, body: parsed as T };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Adds --url, --key and --json to a command (OUTBOUND_API_URL and OUTBOUND_API_KEY by default). */
export function withApiOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'dispatcher API base URL').env('OUTBOUND_API_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--key <key>', 'API key').env('OUTBOUND_API_KEY'))
    .option('--json', 'print the raw JSON answer', false);
}

export interface ApiFlags {
  url: string;
  key?: string;
  json: boolean;
}

/** Runs `work` with a client, prints its answer as JSON or as `human` text, and always closes the client. */
export async function withClient<T>(flags: ApiFlags, work: (client: ApiClient) => Promise<T>, human: (value: T) => string): Promise<void> {
  if (!flags.key) throw new Error('an API key is required: pass --key or set OUTBOUND_API_KEY');
  const client = new ApiClient({ url: flags.url, key: flags.key });
  try {
    const value = await work(client);
    process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
  } catch (error) {
    if (error instanceof ApiError) {
      const details = error.details ? `\n${JSON.stringify(error.details, null, 2)}` : '';
      throw new Error(`${error.code}: ${error.message}${details}`);
    }
    throw error;
  } finally {
    await client.close();
  }
}
