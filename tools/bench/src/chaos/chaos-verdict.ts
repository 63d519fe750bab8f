import type { DeviceLogLine } from './device-process';
import type { EnqueueRecord } from './load-driver';

/** Terminal command statuses: nothing happens to the command after one of these. */
export const TERMINAL = new Set(['acked', 'rejected', 'dead', 'expired', 'cancelled']);

/** One case's counts, from the API's answers, the device log and the commands' final states. */
export interface ChaosCounts {
  /** 2xx, plus OUTCOME_UNKNOWN answers whose id was found stored. */
  accepted: number;
  /** Accepted commands in a terminal state at the end. */
  final: number;
  /** Accepted commands never received by their device, missing from the store, or not terminal. */
  lost: number;
  /** Accepted commands the device received more than once (allowed: at-least-once). */
  deliveredTwice: number;
  /** Of those, re-deliveries that came after a newer command of the same device and priority. */
  staleRedeliveries: number;
  /** New command ids that arrived before an earlier-enqueued one of the same device and priority. */
  outOfOrder: number;
  /** 5xx answers by code (OUTCOME_UNKNOWN included). */
  fiveXx: Record<string, number>;
  /** 5xx answers that were not truthful: a refusal later delivered, an unknown outcome without id. */
  untruthful: number;
  /** 429/503 answers without Retry-After. */
  missingRetryAfter: number;
  /** Enqueues that got no HTTP answer from any dispatcher before the driver gave up. */
  noAnswer: number;
  /** 4xx answers by code (none expected). */
  rejected: Record<string, number>;
}

export interface VerdictInput {
  records: EnqueueRecord[];
  log: DeviceLogLine[];
  /** Final status per accepted (or looked-up) id; 'missing' when the API answers 404. */
  statuses: Map<string, string>;
}

function tally(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** Counts one case. Pure: the same inputs give the same counts (the unit test feeds it by hand). */
export function countCase({ records, log, statuses }: VerdictInput): ChaosCounts {
  const counts: ChaosCounts = {
    accepted: 0, final: 0, lost: 0, deliveredTwice: 0, staleRedeliveries: 0, outOfOrder: 0,
    fiveXx: {}, untruthful: 0, missingRetryAfter: 0, noAnswer: 0, rejected: {},
  };
  const receipts = new Map<string, number>();
  const receivedSeq = new Set<string>();
  for (const line of log) {
    receipts.set(line.id, (receipts.get(line.id) ?? 0) + 1);
    receivedSeq.add(`${line.phyId}#${line.seq}`);
  }

  for (const record of records) {
    if (record.missingRetryAfter) counts.missingRetryAfter += 1;
    if (record.status !== undefined && record.status >= 500) tally(counts.fiveXx, record.code ?? `HTTP_${record.status}`);
    if (record.answer === 'rejected') tally(counts.rejected, record.code ?? 'unknown');
    if (record.answer === 'no-answer') counts.noAnswer += 1;
    const delivered = receivedSeq.has(`${record.phyId}#${record.seq}`);
    // A refusal must mean "not stored"; an unknown outcome must name an id, and a lookup that
    // found nothing must not be followed by the command reaching the device.
    if (record.answer === 'refused' && delivered) counts.untruthful += 1;
    if (record.answer === 'unknown' && !record.id) counts.untruthful += 1;
    const stored = record.answer === 'accepted' || (record.answer === 'unknown' && record.id !== undefined && statuses.get(record.id) !== 'missing');
    if (record.answer === 'unknown' && record.id && !stored && delivered) counts.untruthful += 1;
    if (!stored || !record.id) continue;
    counts.accepted += 1;
    const status = statuses.get(record.id);
    if (status && TERMINAL.has(status)) counts.final += 1;
    const times = receipts.get(record.id) ?? 0;
    if (times === 0 || !status || status === 'missing' || !TERMINAL.has(status)) counts.lost += 1;
    if (times > 1) counts.deliveredTwice += 1;
  }

  // Order, per device and priority, in the order the device received them.
  const seen = new Set<string>();
  const highest = new Map<string, number>();
  for (const line of log) {
    if (line.seq < 0) continue;
    const lane = `${line.phyId}#${line.priority}`;
    const top = highest.get(lane) ?? 0;
    if (seen.has(line.id)) {
      if (line.seq < top) counts.staleRedeliveries += 1;
      continue;
    }
    seen.add(line.id);
    if (line.seq < top) counts.outOfOrder += 1;
    else highest.set(lane, line.seq);
  }
  return counts;
}

/** The pass rule every case shares: nothing lost, nothing out of order, every 5xx truthful and coded, nothing left unanswered. */
export function basePass(counts: ChaosCounts): string[] {
  const failures: string[] = [];
  if (counts.lost) failures.push(`${counts.lost} accepted command(s) lost`);
  if (counts.outOfOrder) failures.push(`${counts.outOfOrder} command(s) out of order`);
  if (counts.untruthful) failures.push(`${counts.untruthful} untruthful 5xx answer(s)`);
  // A fault the system is built for is answered with a coded 503, never an unexpected-error 500.
  const internal = (counts.fiveXx.INTERNAL ?? 0) + (counts.fiveXx.HTTP_500 ?? 0);
  if (internal) failures.push(`${internal} 500 INTERNAL answer(s) where a coded 503 was due`);
  if (counts.missingRetryAfter) failures.push(`${counts.missingRetryAfter} 429/503 answer(s) without Retry-After`);
  if (counts.noAnswer) failures.push(`${counts.noAnswer} enqueue(s) never answered by any dispatcher`);
  if (Object.keys(counts.rejected).length) failures.push(`4xx answers: ${JSON.stringify(counts.rejected)}`);
  return failures;
}
