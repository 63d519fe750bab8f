import type { Logger } from './logger';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * Runs `steps` in order once SIGTERM or SIGINT arrives (or `trigger()` is called), each step
 * logged; if they have not finished within `graceMs` the process exits with code 1 anyway.
 * Answers a trigger so tests and main() can start the same sequence.
 */
export function installShutdown(options: {
  logger: Logger;
  graceMs: number;
  steps: ShutdownStep[];
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}): { trigger: (reason: string) => Promise<void> } {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;
  const trigger = (reason: string): Promise<void> => {
    if (running) return running;
    running = (async () => {
      options.logger.info({ reason, graceMs: options.graceMs }, 'shutting down');
      const timer = setTimeout(() => {
        options.logger.error({ graceMs: options.graceMs }, 'shutdown grace period passed; exiting');
        exit(1);
      }, options.graceMs);
      timer.unref();
      let code = 0;
      for (const step of options.steps) {
        try {
          await step.run();
          options.logger.info({ step: step.name }, 'shutdown step done');
        } catch (error) {
          code = 1;
          options.logger.error({ step: step.name, err: error }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      options.logger.info({ code }, 'shutdown complete');
      exit(code);
    })();
    return running;
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.once(signal, () => void trigger(signal));
  return { trigger };
}
