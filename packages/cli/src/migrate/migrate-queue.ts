import type { ImportReport, PostgresTransfer, TransferRecord } from '@outbound/core';
import type { RedisTransfer } from './redis-transfer';

/** One end of a move: both backends answer the same four operations. */
export interface TransferSide {
  name: 'postgres' | 'redis';
  /** Pending and dead commands in enqueue order, in batches. */
  exportBatches(limit: number): AsyncIterable<TransferRecord[]>;
  import(records: TransferRecord[]): Promise<ImportReport>;
  remove(ids: string[]): Promise<number>;
  counts(): Promise<{ pending: number; dead: number }>;
}

export function postgresSide(transfer: PostgresTransfer): TransferSide {
  return {
    name: 'postgres',
    async *exportBatches(limit) {
      // Batches are removed as they move, but a cursor keeps a batch that failed to import
      // from being read forever.
      let after = '0';
      for (;;) {
        const { records, lastSeq } = await transfer.exportBatch(after, limit);
        if (records.length === 0 || lastSeq === null) return;
        yield records;
        after = lastSeq;
      }
    },
    import: (records) => transfer.import(records),
    remove: (ids) => transfer.remove(ids),
    counts: () => transfer.counts(),
  };
}

export function redisSide(transfer: RedisTransfer): TransferSide {
  return {
    name: 'redis',
    exportBatches: (limit) => transfer.exportBatches(limit),
    import: (records) => transfer.import(records),
    remove: (ids) => transfer.remove(ids),
    counts: () => transfer.counts(),
  };
}

export interface MigrateQueueOptions {
  /** Records per batch. Default 500. */
  batchSize?: number;
  /** Count only; move nothing. */
  dryRun?: boolean;
  /** Called after each batch reached the target, before the source lets it go (tests crash here). */
  afterImport?: (batch: number) => void | Promise<void>;
  onProgress?: (progress: MigrateQueueReport) => void;
}

export interface MigrateQueueReport {
  from: string;
  to: string;
  /** Records read from the source. */
  read: number;
  /** Written to the target by this run. */
  written: number;
  /** Already in the target (written by an earlier, interrupted run). */
  alreadyThere: number;
  /** Removed from the source. */
  removed: number;
  before: { pending: number; dead: number };
  after: { pending: number; dead: number };
}

/**
 * Moves every pending and dead-lettered command from one backend to the other with ids,
 * priorities, attempts and order intact. Each batch is copied (ids that already exist in the
 * target are skipped) and only then removed from the source, so a crash at any point loses
 * nothing, and a rerun copies nothing twice: what reached the target is found by id and only
 * removed from the source. Run it with dispatchers stopped (docs/postgres.md).
 */
export async function migrateQueue(from: TransferSide, to: TransferSide, options: MigrateQueueOptions = {}): Promise<MigrateQueueReport> {
  if (from.name === to.name) throw new Error(`--from and --to are both ${from.name}`);
  const report: MigrateQueueReport = {
    from: from.name,
    to: to.name,
    read: 0,
    written: 0,
    alreadyThere: 0,
    removed: 0,
    before: await from.counts(),
    after: { pending: 0, dead: 0 },
  };
  if (!options.dryRun) {
    let batch = 0;
    for await (const records of from.exportBatches(options.batchSize ?? 500)) {
      report.read += records.length;
      const imported = await to.import(records);
      report.written += imported.inserted;
      report.alreadyThere += imported.existing;
      await options.afterImport?.(batch++);
      report.removed += await from.remove(records.map((r) => r.id));
      options.onProgress?.(report);
    }
  }
  report.after = await from.counts();
  return report;
}
