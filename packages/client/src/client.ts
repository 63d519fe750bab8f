import createFetchClient, { type Client } from 'openapi-fetch';
import { OutboundApiError } from './errors';
import { followEvents, type EventsOptions, type OutboundEvent, type StreamedEvent } from './events';
import type { components, paths } from './generated/openapi';

type Schemas = components['schemas'];
export type Command = Schemas['Command'];
export type CommandStatus = Command['status'];
export type EnqueueRequest = Schemas['EnqueueRequest'];
export type EnqueueResult = Schemas['EnqueueResult'];
/** The command after a wait, with whether an earlier command of the same idempotency key answered. */
export type WaitedCommand = Schemas['WaitedCommand'];
export type BatchResult = Schemas['BatchResult'];
export type BatchAccepted = Schemas['BatchAccepted'];
/** A batch item sent with a wait: the whole command as the wait left it. */
export type BatchWaited = Schemas['BatchWaited'];
export type BatchFailed = Schemas['BatchFailed'];
export type Device = Schemas['Device'];
export type Stats = Schemas['Stats'];
export type CommandPage = Schemas['CommandPage'];
export type DeadLetterSelector = Schemas['DeadLetterSelector'];

/** A command to send: the API's enqueue body, with the payload as bytes or as base64 text. */
export type SendCommand = Omit<EnqueueRequest, 'payload'> & {
  /** The bytes to deliver: a Uint8Array (Buffer) is encoded for you; a string must already be base64. */
  payload: Uint8Array | string;
};

export interface OutboundClientOptions {
  /** The dispatcher, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An API key: the `send` role for commands, `admin` for devices, stats and dead letters. */
  apiKey: string;
  /** Give up on a request after this long, plus any wait it asks the server for (default 30,000 ms). */
  timeoutMs?: number;
  /** The longest wait one request asks for (the server's DISPATCHER_MAX_WAIT_MS, default 60,000). */
  maxWaitMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export interface ListOptions {
  phyId?: string;
  status?: CommandStatus;
  /** Only commands created at or after this time. */
  since?: Date | number | string;
  /** Only commands created before this time. */
  until?: Date | number | string;
  /** Page size (the iterator fetches page after page). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** Every state a command can be in. */
export const COMMAND_STATUSES = ['queued', 'inflight', 'acked', 'rejected', 'dead', 'expired', 'cancelled'] as const satisfies readonly CommandStatus[];
export const TERMINAL_STATUSES: ReadonlySet<CommandStatus> = new Set(['acked', 'rejected', 'dead', 'expired', 'cancelled']);

/** True once the command can change no more. */
export function isTerminal(command: Pick<Command, 'status'>): boolean {
  return TERMINAL_STATUSES.has(command.status);
}

const toBase64 = (payload: Uint8Array | string) => (typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64'));
const toBody = (command: SendCommand): EnqueueRequest => ({ ...command, payload: toBase64(command.payload) });
const timeQuery = (t: Date | number | string | undefined) => (t === undefined ? undefined : t instanceof Date ? t.toISOString() : String(t));

type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * A client of the Outbound dispatcher API. Every method throws OutboundApiError when the API
 * refuses (its problem answer's code, status, message and fields) or cannot be reached.
 */
export class OutboundClient {
  private readonly api: Client<paths>;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly maxWaitMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: OutboundClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxWaitMs = options.maxWaitMs ?? 60_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    const fetchImpl = this.fetchImpl;
    this.api = createFetchClient<paths>({ baseUrl: this.base, headers: { authorization: `Bearer ${options.apiKey}` }, fetch: (request) => fetchImpl(request) });
  }

  /** Queues one command (202: `{id, status, duplicate}`), or a batch: each item answers on its own, in order. */
  send(command: SendCommand, options?: { idempotencyKey?: string; signal?: AbortSignal }): Promise<EnqueueResult>;
  /** With `waitMs` a batch answers once every command is terminal or the wait passes, each item the whole command (BatchWaited). */
  send(commands: readonly SendCommand[], options?: { waitMs?: number; signal?: AbortSignal }): Promise<BatchResult>;
  async send(what: SendCommand | readonly SendCommand[], options: { idempotencyKey?: string; waitMs?: number; signal?: AbortSignal } = {}): Promise<EnqueueResult | BatchResult> {
    if (Array.isArray(what)) {
      const commands = (what as readonly SendCommand[]).map(toBody);
      const query = options.waitMs ? { waitMs: options.waitMs } : undefined;
      return this.call((signal) => this.api.POST('/v1/commands/batch', { body: { commands }, params: { query }, signal }), options.signal, options.waitMs);
    }
    const body = toBody(what as SendCommand);
    const header = options.idempotencyKey === undefined ? undefined : { 'Idempotency-Key': options.idempotencyKey };
    return this.call((signal) => this.api.POST('/v1/commands', { body, params: { header }, signal }), options.signal) as Promise<EnqueueResult>;
  }

  /**
   * Queues a command and waits until it is terminal or `timeoutMs` passes (default 60,000),
   * holding requests open on the server rather than polling. Answers the command as it then is:
   * check `status` (still `queued` or `inflight` when the time ran out).
   */
  async sendAndWait(command: SendCommand, options: { timeoutMs?: number; idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<WaitedCommand> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const body = toBody(command);
    const header = options.idempotencyKey === undefined ? undefined : { 'Idempotency-Key': options.idempotencyKey };
    const waitMs = this.waitFor(deadline);
    const first = await this.call(
      (signal) => this.api.POST('/v1/commands', { body, params: { header, query: { waitMs } }, signal }), options.signal, waitMs,
    );
    // Without a wait (the time was already up) the answer is {id, status, duplicate}.
    let current: WaitedCommand = 'createdAt' in first ? first : { ...(await this.get(first.id, { signal: options.signal })), duplicate: first.duplicate };
    while (!isTerminal(current) && Date.now() < deadline) {
      current = { ...(await this.get(current.id, { waitMs: this.waitFor(deadline), signal: options.signal })), duplicate: current.duplicate };
    }
    return current;
  }

  /** Reads a command; with `waitMs`, the server holds the answer until it is terminal or the wait passes. */
  get(id: string, options: { waitMs?: number; signal?: AbortSignal } = {}): Promise<Command> {
    const query = options.waitMs ? { waitMs: options.waitMs } : undefined;
    return this.call((signal) => this.api.GET('/v1/commands/{id}', { params: { path: { id }, query }, signal }), options.signal, options.waitMs);
  }

  /** Cancels a command that is still queued (INVALID_STATE once it is in flight or finished). */
  cancel(id: string, options: { signal?: AbortSignal } = {}): Promise<Command> {
    return this.call((signal) => this.api.DELETE('/v1/commands/{id}', { params: { path: { id } }, signal }), options.signal);
  }

  /** Command history, newest first (queued, in flight and finished within retention), page after page. */
  async *list(options: ListOptions = {}): AsyncGenerator<Command> {
    let cursor: string | undefined;
    do {
      const query = {
        phyId: options.phyId, status: options.status, since: timeQuery(options.since), until: timeQuery(options.until), limit: options.pageSize, cursor,
      };
      const page: CommandPage = await this.call((signal) => this.api.GET('/v1/commands', { params: { query }, signal }), options.signal);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** A command's events in order: queued, each delivery (with its replica), retries, the outcome. */
  async timeline(id: string, options: { signal?: AbortSignal } = {}): Promise<OutboundEvent[]> {
    return (await this.call((signal) => this.api.GET('/v1/commands/{id}/events', { params: { path: { id } }, signal }), options.signal)).items;
  }

  /**
   * The live event stream (`GET /v1/events`) as an async iterator. After a disconnect it
   * reconnects and resumes right after the last event it handed out.
   */
  events(options: EventsOptions = {}): AsyncGenerator<StreamedEvent> {
    const open = (after: string | null, signal: AbortSignal) => {
      const url = new URL(`${this.base}/v1/events`);
      if (options.types?.length) url.searchParams.set('types', options.types.join(','));
      if (options.phyId) url.searchParams.set('phyId', options.phyId);
      if (after === null && options.after === 'oldest') url.searchParams.set('from', 'oldest');
      const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}`, accept: 'text/event-stream' };
      if (after !== null) headers['last-event-id'] = after;
      return this.fetchImpl(url, { headers, signal });
    };
    return followEvents(open, options, (response) => this.errorOf(response));
  }

  /** Is the device online, on which replica, how many commands it has pending (admin key). */
  device(phyId: string, options: { signal?: AbortSignal } = {}): Promise<Device> {
    return this.call((signal) => this.api.GET('/v1/devices/{phyId}', { params: { path: { phyId } }, signal }), options.signal);
  }

  /** Queue counts in total and per shard (admin key). */
  stats(options: { signal?: AbortSignal } = {}): Promise<Stats> {
    return this.call((signal) => this.api.GET('/v1/stats', { signal }), options.signal);
  }

  /** One page of dead letters (admin key). */
  deadLetters(options: { limit?: number; cursor?: string; signal?: AbortSignal } = {}): Promise<CommandPage> {
    return this.call((signal) => this.api.GET('/v1/dead-letters', { params: { query: { limit: options.limit ?? 100, cursor: options.cursor } }, signal }), options.signal);
  }

  /** Requeues dead letters with their attempts reset (admin key); answers how many moved. */
  async replayDeadLetters(selector: DeadLetterSelector, options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.call((signal) => this.api.POST('/v1/dead-letters/replay', { body: selector, signal }), options.signal)).replayed;
  }

  /** Deletes dead letters by ids, all, or a filter (admin key); answers how many went. */
  async purgeDeadLetters(selector: DeadLetterSelector, options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.call((signal) => this.api.POST('/v1/dead-letters/purge', { body: selector, signal }), options.signal)).purged;
  }

  /** Cancels every queued command of a device (admin key); answers how many. */
  async cancelDeviceCommands(phyId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.call((signal) => this.api.DELETE('/v1/devices/{phyId}/commands', { params: { path: { phyId } }, signal }), options.signal)).cancelled;
  }

  /** Deletes one dead letter (admin key). */
  async deleteDeadLetter(id: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.call((signal) => this.api.DELETE('/v1/dead-letters/{id}', { params: { path: { id } }, signal }), options.signal)).deleted;
  }

  /** Provisions (or replaces) the device's own 32-byte handshake key (admin key). */
  async setDeviceKey(phyId: string, key: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call((signal) => this.api.PUT('/v1/devices/{phyId}/credentials', { params: { path: { phyId } }, body: { key: toBase64(key) }, signal }), options.signal);
  }

  /** Reverts the device to the key derived from the fleet secret; answers whether it had a key of its own (admin key). */
  async deleteDeviceKey(phyId: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return (await this.call((signal) => this.api.DELETE('/v1/devices/{phyId}/credentials', { params: { path: { phyId } }, signal }), options.signal)).removed;
  }

  /** Revokes the device: disconnected everywhere, its handshakes refused (admin key). */
  async revokeDevice(phyId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.call((signal) => this.api.PUT('/v1/devices/{phyId}/revocation', { params: { path: { phyId } }, signal }), options.signal);
  }

  /** Lifts a revocation; answers whether one was in place (admin key). */
  async unrevokeDevice(phyId: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return (await this.call((signal) => this.api.DELETE('/v1/devices/{phyId}/revocation', { params: { path: { phyId } }, signal }), options.signal)).lifted;
  }

  /** The wait to ask the server for: what is left until `deadline`, at most maxWaitMs. */
  private waitFor(deadline: number): number {
    return Math.max(0, Math.min(this.maxWaitMs, deadline - Date.now()));
  }

  /** Runs one request with the timeout (plus `waitMs`) and the caller's signal; answers its data or throws OutboundApiError. */
  private async call<T>(request: (signal: AbortSignal) => Promise<Answer<T>>, callerSignal: AbortSignal | undefined, waitMs = 0): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs + waitMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    let answer: Answer<T>;
    try {
      answer = await request(signal);
    } catch (error) {
      // The caller's own abort is theirs to recognise, not a failure of the API.
      if (callerSignal?.aborted) throw callerSignal.reason;
      throw OutboundApiError.fromFailure(this.base, error);
    }
    if (answer.error !== undefined || !answer.response.ok) throw OutboundApiError.fromResponse(answer.response, answer.error);
    return answer.data as T;
  }

  private async errorOf(response: Response): Promise<OutboundApiError> {
    const text = await response.text().catch(() => '');
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return OutboundApiError.fromResponse(response, body);
  }
}
