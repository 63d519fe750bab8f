import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { sleep } from './child-processes';
import { BENCH_SECRETS } from './service-processes';

/** Wall-clock milliseconds with sub-millisecond resolution (the same clock Redis TIME and PostgreSQL now() read). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** What one producer run sent: every accepted command's id and the time it was meant to be sent. */
export interface ProducedCommands {
  ids: string[];
  /** intendedMs[i] belongs to ids[i]. */
  intendedMs: number[];
  /** Commands the API accepted (counted also when their ids are not kept). */
  accepted: number;
  /** Commands the API refused (4xx/5xx per item or per request). */
  refused: number;
  /** Intended send time → API answer, ms, per accepted command. */
  enqueueAnswerMs: number[];
  /** The request handed to the HTTP client → its answer read, ms, per accepted command (enqueueAnswerMs less the producer's own lateness). */
  enqueueRoundTripMs?: number[];
  startedAt: number;
  finishedAt: number;
}

export interface ProducerOptions {
  apiUrl: string;
  /** phyIds the commands go to, round robin. */
  phyIds: string[];
  /** HTTP connections to the API. */
  connections?: number;
  payloadBytes?: number;
}

/**
 * The producer: backend application traffic through the public API's batch enqueue
 * (`POST /v1/commands/batch`). Runs in the bench's main process.
 */
export class LoadGenerator {
  private readonly pool: Pool;
  private readonly payload: string;
  private cursor = 0;

  constructor(private readonly options: ProducerOptions) {
    this.pool = new Pool(options.apiUrl, { connections: options.connections ?? 16, keepAliveTimeout: 30_000 });
    this.payload = Buffer.alloc(options.payloadBytes ?? 32, 0x5a).toString('base64');
  }

  /**
   * Open loop at `rate` commands/s for `seconds`: command i is due at t0 + i/rate and is sent
   * with whatever else is due at that moment (one batch request, never waiting to fill it), whether
   * or not earlier requests were answered. Latency is later measured from the due time, so a
   * stalled pipeline shows its queueing instead of slowing the producer (no coordinated omission).
   * At most `maxOutstanding` requests are in flight; beyond that commands wait, still on their due time.
   * Options for long runs: `keep: false` only counts (a long run would otherwise hold every id;
   * ids, intendedMs and enqueueAnswerMs stay empty); `tickMs` sends at most one batch per tick,
   * i.e. batches of rate × tick commands, as a backend that gathers its commands would (fewer,
   * larger requests; the latency measured from the due time still shows the wait); `out` is
   * filled as answers arrive, for a caller that reports while the loop runs; `signal` stops
   * sending early.
   */
  async openLoop(
    rate: number, seconds: number, maxOutstanding = 256,
    options: { keep?: boolean; tickMs?: number; out?: ProducedCommands; signal?: AbortSignal } = {},
  ): Promise<ProducedCommands> {
    const total = Math.max(1, Math.round(rate * seconds));
    const keep = options.keep ?? true;
    const out: ProducedCommands = options.out ?? { ids: [], intendedMs: [], accepted: 0, refused: 0, enqueueAnswerMs: [], enqueueRoundTripMs: [], startedAt: 0, finishedAt: 0 };
    const interval = 1000 / rate;
    const t0 = epochMs() + 20;
    out.startedAt = t0;
    const inFlight = new Set<Promise<unknown>>();
    let next = 0;
    while (next < total && !options.signal?.aborted) {
      const now = epochMs();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      while (next < due) {
        if (inFlight.size >= maxOutstanding) await Promise.race(inFlight);
        const end = Math.min(due, next + 1000);
        const intended = Array.from({ length: end - next }, (_, k) => t0 + (next + k) * interval);
        const request: Promise<unknown> = this.send(intended, out, keep).finally(() => inFlight.delete(request));
        inFlight.add(request);
        next = end;
      }
      if (next < total) await sleep(Math.max(options.tickMs ?? 0, t0 + next * interval - epochMs()));
    }
    await Promise.all(inFlight);
    out.finishedAt = epochMs();
    return out;
  }

  /**
   * Closed loop as fast as the system takes it, with at most `window()` commands accepted but not
   * yet ACKed (`unacked()` reads the device fleet's counter) so the queue stays bounded and the
   * run measures steady state, not how fast a backlog drains. `workers` requests of `batch` commands.
   */
  async saturate(seconds: number, unacked: (accepted: number) => number, options: { window: () => number; batch: number; workers: number }): Promise<{ accepted: number; refused: number; startedAt: number; finishedAt: number }> {
    const result = { accepted: 0, refused: 0, startedAt: epochMs(), finishedAt: 0 };
    const deadline = result.startedAt + seconds * 1000;
    // Ids are not kept here (only counted): a saturation run sends hundreds of thousands.
    const sink: ProducedCommands = { ids: [], intendedMs: [], accepted: 0, refused: 0, enqueueAnswerMs: [], startedAt: 0, finishedAt: 0 };
    const worker = async (): Promise<void> => {
      while (epochMs() < deadline) {
        if (unacked(result.accepted) + options.batch > options.window()) {
          await sleep(1);
          continue;
        }
        // Not `accepted += await ...`: that reads `accepted` before the await and loses the other workers' counts.
        const accepted = await this.send(new Array<number>(options.batch).fill(epochMs()), sink, false);
        result.accepted += accepted;
      }
    };
    await Promise.all(Array.from({ length: options.workers }, worker));
    result.refused = sink.refused;
    result.finishedAt = epochMs();
    return result;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** One batch request; records accepted ids with their due times (when `keep`); answers how many were accepted. */
  private async send(intended: number[], out: ProducedCommands, keep = true): Promise<number> {
    const { phyIds } = this.options;
    const commands = intended.map(() => ({ phyId: phyIds[this.cursor++ % phyIds.length]!, payload: this.payload }));
    const sentAt = epochMs();
    try {
      const response = await this.pool.request({
        method: 'POST',
        path: '/v1/commands/batch',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_SECRETS.apiKey}` },
        body: JSON.stringify({ commands }),
      });
      const text = await response.body.text();
      const answeredAt = epochMs();
      if (response.statusCode !== 200) {
        out.refused += intended.length;
        if (out.refused === intended.length) process.stderr.write(`bench: batch enqueue answered ${response.statusCode}: ${text.slice(0, 300)}\n`);
        return 0;
      }
      const body = JSON.parse(text) as { results: Array<{ index: number; id?: string }> };
      let accepted = 0;
      for (const item of body.results) {
        if (!item.id) {
          out.refused += 1;
          continue;
        }
        accepted += 1;
        out.accepted += 1;
        if (!keep) continue;
        out.ids.push(item.id);
        out.intendedMs.push(intended[item.index]!);
        out.enqueueAnswerMs.push(answeredAt - intended[item.index]!);
        out.enqueueRoundTripMs?.push(answeredAt - sentAt);
      }
      return accepted;
    } catch (error) {
      out.refused += intended.length;
      process.stderr.write(`bench: batch enqueue failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 0;
    }
  }
}
