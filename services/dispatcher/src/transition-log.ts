import { LogSampler, logLinesDroppedCounter, type Logger, type LogSamplingConfig } from '@outbound/core/service';
import type { Counter, Registry } from 'prom-client';

/** What every command state-transition line carries. */
export interface TransitionFields {
  commandId: string;
  phyId: string;
  /** Attempts including the one that just ended (0 at enqueue). */
  attempt: number;
  /** The command's status after the transition (`queued`, `inflight`, `delivered`, `dead`, ...). */
  status?: string;
  [more: string]: unknown;
}

/**
 * Command state transitions at info level, so one command can be followed by `commandId`
 * through the log. Lines on the success path (accepted, delivered) are sampled with the
 * access log's settings, each kind with its own per-second cap; lines for failures (a failed
 * attempt, a retry, a dead letter, an outcome the store refused) are always written.
 */
export class TransitionLog {
  private readonly sampler: LogSampler;
  private readonly dropped: Counter<'kind'>;

  constructor(registry: Registry, sampling?: LogSamplingConfig) {
    this.sampler = new LogSampler(sampling);
    this.dropped = logLinesDroppedCounter(registry);
  }

  /**
   * A success-path transition: written when the sampler keeps it. The logger and the fields may
   * be given as functions, called only for a line that is written (a request's child logger and
   * a line's fields cost more than the sampler's verdict).
   */
  success(logger: Logger | (() => Logger), fields: TransitionFields | (() => TransitionFields), message: string): void {
    if (!this.sampler.keep()) {
      this.dropped.inc({ kind: 'transition' });
      return;
    }
    (typeof logger === 'function' ? logger() : logger).info(typeof fields === 'function' ? fields() : fields, message);
  }

  /** A failure-path transition: always written (`warn` for a command that will not be delivered). */
  failure(logger: Logger, fields: TransitionFields, message: string, level: 'info' | 'warn' = 'info'): void {
    logger[level](fields, message);
  }
}
