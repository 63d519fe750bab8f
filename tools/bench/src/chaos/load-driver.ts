import { randomUUID } from 'node:crypto';
import { sleep } from '../bench/child-processes';
import { BENCH_SECRETS } from '../bench/service-processes';
import { chaosPayload } from './chaos-payload';

/** What the API answered one enqueue, as the caller saw it. */
export interface EnqueueRecord {
  phyId: string;
  seq: number;
  priority: number;
  /**
   * accepted: 2xx with an id. unknown: 503 OUTCOME_UNKNOWN (look the id up). refused: any other
   * 5xx (the contract: nothing stored). rejected: a 4xx. no-answer: no HTTP answer on any
   * dispatcher before the driver gave up (the idempotency key was resent meanwhile).
   */
  answer: 'accepted' | 'unknown' | 'refused' | 'rejected' | 'no-answer';
  status?: number;
  code?: string;
  id?: string;
  /** 429/503 without Retry-After. */
  missingRetryAfter?: boolean;
  sentAt: number;
}

export interface LoadOptions {
  phyIds: string[];
  /** Devices that never ACK: each gets only `silentCommands` commands (each takes maxAttempts ACK timeouts). */
  silentPhyIds?: string[];
  silentCommands?: number;
  /** Enqueues per second over all devices (each device sends one at a time, in sequence order). */
  ratePerSecond: number;
  /** `batch`: one POST /v1/commands/batch per round, one command per device in it. */
  mode?: 'single' | 'batch';
  ackTimeoutMs: number;
  /** ackTimeoutMs and maxAttempts of the silent devices' commands. */
  silentAckTimeoutMs?: number;
  silentMaxAttempts?: number;
}

/** Sends to one of these dispatchers, round robin; the harness edits the list as it kills and starts them. */
export type Targets = string[];

const TRANSPORT_GIVE_UP_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * Load for the fault suite. Per device the enqueues are strictly sequential (the next is sent
 * after the previous one's answer), so the device's enqueue order is defined and the device
 * log can be checked against it. Every request carries an idempotency key: when the
 * connection fails (the dispatcher was killed) the same request goes to the next dispatcher,
 * as a careful client would, and the answer it gets there is the one recorded.
 */
export class LoadDriver {
  readonly records: EnqueueRecord[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private next = 0;
  private readonly run = randomUUID().slice(0, 8);
  private readonly seqs = new Map<string, number>();

  constructor(private readonly targets: Targets, private readonly options: LoadOptions) {}

  start(): void {
    this.running = true;
    const { phyIds, mode } = this.options;
    if (mode === 'batch') this.loops = [this.batchLoop(phyIds.filter((p) => !this.silent(p)))];
    else this.loops = phyIds.map((phyId) => this.deviceLoop(phyId));
    if (mode === 'batch') this.loops.push(...phyIds.filter((p) => this.silent(p)).map((p) => this.deviceLoop(p)));
  }

  /** Stops sending; resolves when every request in flight has its answer (or was given up). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private silent(phyId: string): boolean {
    return this.options.silentPhyIds?.includes(phyId) ?? false;
  }

  private nextSeq(phyId: string): number {
    const seq = (this.seqs.get(phyId) ?? 0) + 1;
    this.seqs.set(phyId, seq);
    return seq;
  }

  /**
   * One enqueue per answering device at once, sent to `baseUrl` first, at priority 0 (a lane
   * of its own, so the device's order check is unaffected). Fired just before a process is
   * stopped, it leaves requests and claims in flight at the moment of the stop, which is
   * what a stop past the lease must get right. Answers are recorded as they come.
   */
  burst(baseUrl: string): void {
    for (const phyId of this.options.phyIds.filter((p) => !this.silent(p))) {
      const seq = this.nextSeq(phyId);
      const { body } = this.body(phyId, seq, 0);
      const sentAt = Date.now();
      this.loops.push(this.post('/v1/commands', body, baseUrl).then((answer) => {
        this.records.push({ phyId, seq, priority: 0, sentAt, ...classify(answer.status, answer.json, answer.retryAfter) });
      }));
    }
  }

  private body(phyId: string, seq: number, fixedPriority?: number): { priority: number; body: Record<string, unknown> } {
    // Two priorities, so the order check covers the per-priority lines of one device.
    const priority = fixedPriority ?? (seq % 4 === 0 ? 9 : 5);
    const silent = this.silent(phyId);
    return {
      priority,
      body: {
        phyId, payload: chaosPayload(seq, priority), priority, idempotencyKey: `chaos-${this.run}-${phyId}-${seq}`,
        ackTimeoutMs: silent ? this.options.silentAckTimeoutMs ?? 500 : this.options.ackTimeoutMs,
        ...(silent ? { maxAttempts: this.options.silentMaxAttempts ?? 2 } : {}),
      },
    };
  }

  private async deviceLoop(phyId: string): Promise<void> {
    const { phyIds, ratePerSecond } = this.options;
    const gapMs = (phyIds.length / ratePerSecond) * 1000;
    await sleep(Math.random() * gapMs);
    let sent = 0;
    const limit = this.silent(phyId) ? this.options.silentCommands ?? 3 : Infinity;
    while (this.running && sent < limit) {
      const seq = this.nextSeq(phyId);
      const { priority, body } = this.body(phyId, seq);
      const sentAt = Date.now();
      const answer = await this.post('/v1/commands', body);
      this.records.push({ phyId, seq, priority, sentAt, ...classify(answer.status, answer.json, answer.retryAfter) });
      sent += 1;
      await sleep(gapMs * (0.5 + Math.random()));
    }
  }

  private async batchLoop(phyIds: string[]): Promise<void> {
    const gapMs = (phyIds.length / this.options.ratePerSecond) * 1000;
    while (this.running) {
      const items = phyIds.map((phyId) => {
        const seq = this.nextSeq(phyId);
        return { phyId, seq, ...this.body(phyId, seq) };
      });
      const sentAt = Date.now();
      const answer = await this.post('/v1/commands/batch', { commands: items.map((i) => i.body) });
      const results = (answer.json as { results?: Array<Record<string, unknown>> } | undefined)?.results;
      items.forEach((item, index) => {
        const base = { phyId: item.phyId, seq: item.seq, priority: item.priority, sentAt };
        const result = answer.status === 200 && results ? results[index] : undefined;
        if (!result) this.records.push({ ...base, ...classify(answer.status, answer.json, answer.retryAfter) });
        else if (typeof result.id === 'string' && !result.error) this.records.push({ ...base, answer: 'accepted', status: 200, id: result.id });
        else this.records.push({ ...base, ...classify(statusOfItem(result), result, null, true) });
      });
      await sleep(gapMs);
    }
  }

  /** POST with transport retries on the next dispatcher (same body: the idempotency key makes that safe). */
  private async post(path: string, body: object, first?: string): Promise<{ status: number; json: unknown; retryAfter: string | null }> {
    const deadline = Date.now() + TRANSPORT_GIVE_UP_MS;
    for (let attempt = 0; ; attempt++) {
      const base = attempt === 0 && first ? first : this.targets[this.next++ % Math.max(1, this.targets.length)];
      if (base) {
        try {
          const response = await fetch(`${base}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${BENCH_SECRETS.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          const text = await response.text();
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          return { status: response.status, json, retryAfter: response.headers.get('retry-after') };
        } catch {
          // connection refused or reset, or no answer in time: try the next dispatcher
        }
      }
      if (Date.now() > deadline) return { status: 0, json: undefined, retryAfter: null };
      await sleep(200);
    }
  }
}

/** The error code and id of an answer, in the `{error: {...}}` shape or the problem+json one (code as a member). */
export function errorFields(json: unknown): { code?: string; id?: string } {
  const body = (json ?? {}) as Record<string, unknown>;
  const nested = (body.error ?? {}) as Record<string, unknown>;
  const code = typeof body.code === 'string' ? body.code : typeof nested.code === 'string' ? nested.code : undefined;
  const idOf = (o: Record<string, unknown>): string | undefined => {
    for (const key of ['id', 'commandId']) if (typeof o[key] === 'string') return o[key] as string;
    const details = o.details as Record<string, unknown> | undefined;
    if (details && !Array.isArray(details) && typeof details.id === 'string') return details.id;
    return undefined;
  };
  return { code, id: idOf(body) ?? idOf(nested) };
}

function statusOfItem(result: Record<string, unknown>): number {
  const { code } = errorFields(result);
  if (typeof result.status === 'number') return result.status;
  if (code === 'OUTCOME_UNKNOWN' || code === 'STORE_UNAVAILABLE' || code === 'STORE_FULL') return 503;
  if (code === 'INTERNAL') return 500;
  return 400;
}

function classify(status: number, json: unknown, retryAfter: string | null, batchItem = false): Omit<EnqueueRecord, 'phyId' | 'seq' | 'priority' | 'sentAt'> {
  const { code, id } = errorFields(json);
  const missingRetryAfter = !batchItem && (status === 429 || status === 503) && !retryAfter;
  if (status === 0) return { answer: 'no-answer' };
  if (status >= 200 && status < 300) {
    const okId = (json as { id?: unknown } | undefined)?.id;
    return typeof okId === 'string' ? { answer: 'accepted', status, id: okId } : { answer: 'unknown', status, code: 'NO_ID_IN_2XX' };
  }
  if (status >= 500 && code === 'OUTCOME_UNKNOWN') return { answer: 'unknown', status, code, id, missingRetryAfter };
  if (status >= 500) return { answer: 'refused', status, code: code ?? `HTTP_${status}`, missingRetryAfter };
  return { answer: 'rejected', status, code: code ?? `HTTP_${status}`, missingRetryAfter };
}
