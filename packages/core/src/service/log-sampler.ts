import type convict from 'convict';

/** How many success lines (access log, command transitions) a process writes; errors are never sampled. */
export interface LogSamplingConfig {
  /** Share of success lines kept (0..1): 1 keeps all, 0.01 one in a hundred. */
  successSampleRate: number;
  /** At most this many success lines a second per sampler, whatever the rate (0: no cap). */
  successMaxPerSecond: number;
}

/** Shared by both services, so the environment names are the same everywhere. */
export const logSamplingSchema: convict.Schema<LogSamplingConfig> = {
  successSampleRate: { doc: 'share of success log lines kept (0..1); errors, 4xx and 5xx are always logged', format: Number, default: 1, env: 'LOG_SUCCESS_SAMPLE_RATE' },
  successMaxPerSecond: { doc: 'most success log lines per second per kind (access log, command transitions); 0: no cap', format: 'nat', default: 200, env: 'LOG_SUCCESS_MAX_PER_SECOND' },
};

/** Problems with a sampling config, for the services' config checks (empty when fine). */
export function logSamplingProblems(config: LogSamplingConfig): string[] {
  const rate = config.successSampleRate;
  return Number.isFinite(rate) && rate >= 0 && rate <= 1 ? [] : [`log.successSampleRate must be between 0 and 1 (got ${rate})`];
}

/**
 * Decides whether a success line is written: kept with probability `successSampleRate`, and
 * at most `successMaxPerSecond` a second. Log volume is then bounded by the cap (plus every
 * error line) however many requests or commands pass, while a quiet system logs everything.
 * Lines left out are counted so the log says what it dropped.
 */
export class LogSampler {
  private windowStart = 0;
  private keptInWindow = 0;
  /** Success lines left out since the process started. */
  dropped = 0;

  constructor(private readonly config: LogSamplingConfig = { successSampleRate: 1, successMaxPerSecond: 0 }) {}

  /** True when this success line should be written. */
  keep(now = Date.now()): boolean {
    const { successSampleRate: rate, successMaxPerSecond: cap } = this.config;
    if (rate < 1 && Math.random() >= rate) return this.drop();
    if (cap > 0) {
      if (now - this.windowStart >= 1_000) {
        this.windowStart = now;
        this.keptInWindow = 0;
      }
      if (this.keptInWindow >= cap) return this.drop();
      this.keptInWindow += 1;
    }
    return true;
  }

  private drop(): false {
    this.dropped += 1;
    return false;
  }
}
