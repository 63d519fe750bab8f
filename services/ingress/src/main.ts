#!/usr/bin/env node
import { ConfigError, createLogger, installShutdown } from '@outbound/core/service';
import { loadIngressConfig } from './config';
import { startIngress } from './ingress';

/**
 * The ingress process: config (stops with one line per problem), logger, the replica, and
 * SIGTERM/SIGINT → drain within INGRESS_SHUTDOWN_GRACE_MS.
 */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadIngressConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ingress: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const { config, redacted } = loaded;
  const logger = createLogger({ service: 'ingress', level: config.logLevel });
  logger.info({ config: redacted }, 'configuration');
  const handle = await startIngress(config, { logger });
  installShutdown({ logger, graceMs: config.drain.graceMs, steps: [{ name: 'drain', run: () => handle.drain() }] });
}

main().catch((error: unknown) => {
  console.error('ingress failed to start:', error);
  process.exit(1);
});
