import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { sleep } from './child-processes';
import { BENCH_SECRETS } from './service-processes';

/** Wall-clock milliseconds with sub-millisecond resolution (the same clock Redis TIME and PostgreSQL now() read). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/**
 * How the producer sends a command on its due time. Node's timers count whole milliseconds from
 * a loop time that may already be stale, so a timer alone fires up to ~1 ms early or late: an
 * early one found nothing due and slept another whole millisecond, and the idle step's commands
 * went out 0.6 ms late on average, a delay of the bench's own that its enqueue → ACK latency
 * included. So the timer ends TIMER_LEAD_MS early, the thread then sleeps on a futex
 * (Atomics.wait, microsecond timeouts) until SPIN_LEAD_MS before, and reads the clock for the
 * rest. Measured on this host, 100 waits of 20 ms each: timer alone p50 0.21 ms early, max 6.9 ms
 * late; this way p50 0.000, p90 0.22 ms late, 0.45 ms of CPU per wait (turning the event loop
 * with setImmediate instead: 1.5 ms of CPU per wait).
 */
const TIMER_LEAD_MS = 1.5;
const SPIN_LEAD_MS = 0.25;
/**
 * The thread is blocked for the last TIMER_LEAD_MS (answers arriving meanwhile are read after
 * the send): only rates whose commands are at least this far apart wait that way (≤ 100/s).
 * Faster rates wait on the timer alone, and their lateness shows as the enqueue answer less
 * its round trip.
 */
const ON_TIME_MIN_INTERVAL_MS = 10;

const futex = new Int32Array(new SharedArrayBuffer(4));

/** Waits until the epoch time `at`: on the timer alone, or `onTime` to within microseconds (TIMER_LEAD_MS). */
async function waitUntilDue(at: number, onTime: boolean): Promise<void> {
  const left = at - epochMs();
  if (!onTime) {
    if (left > 0) await sleep(left);
    return;
  }
  if (left > TIMER_LEAD_MS) await sleep(left - TIMER_LEAD_MS);
  const block = at - epochMs() - SPIN_LEAD_MS;
  if (block > 0) Atomics.wait(futex, 0, 0, block);
  while (epochMs() < at) {
    // the last SPIN_LEAD_MS: a futex wake-up may come that much late
  }
}

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
   * sending early. Up to 100 commands/s each command is sent on its due time (TIMER_LEAD_MS);
   * faster, on Node's millisecond timers (`onTime` says which, whatever the rate).
   */
  async openLoop(
    rate: number, seconds: number, maxOutstanding = 256,
    options: { keep?: boolean; tickMs?: number; out?: ProducedCommands; signal?: AbortSignal; onTime?: boolean } = {},
  ): Promise<ProducedCommands> {
    const total = Math.max(1, Math.round(rate * seconds));
    const keep = options.keep ?? true;
    const out: ProducedCommands = options.out ?? { ids: [], intendedMs: [], accepted: 0, refused: 0, enqueueAnswerMs: [], enqueueRoundTripMs: [], startedAt: 0, finishedAt: 0 };
    const interval = 1000 / rate;
    const onTime = (options.onTime ?? interval >= ON_TIME_MIN_INTERVAL_MS) && !options.tickMs;
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
      if (next >= total) break;
      if (options.tickMs) await sleep(Math.max(options.tickMs, t0 + next * interval - epochMs()));
      else await waitUntilDue(t0 + next * interval, onTime);
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
