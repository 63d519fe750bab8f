#!/usr/bin/env node
import { ConfigError, createLogger, installShutdown, toError } from '@outbound/core';
import { loadDispatcherConfig } from './config';
import { startDispatcher } from './dispatcher';

/** Reads configuration, starts the dispatcher, and stops it in order on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadDispatcherConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`dispatcher: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const { config, redacted } = loaded;
  const logger = createLogger({ service: 'dispatcher', level: config.logLevel });
  logger.info({ config: redacted }, 'effective configuration');
  if (config.apiKeys.length === 0) logger.warn('API_KEYS is empty: every /v1 call will answer 401');
  const dispatcher = await startDispatcher(config, { logger });
  // The grace period covers the loop's own grace plus closing stores.
  installShutdown({ logger, graceMs: config.shutdown.graceMs + 5_000, steps: [{ name: 'dispatcher', run: () => dispatcher.stop() }] });
}

main().catch((error: unknown) => {
  console.error(`dispatcher: failed to start: ${toError(error).stack ?? String(error)}`);
  process.exit(1);
});
