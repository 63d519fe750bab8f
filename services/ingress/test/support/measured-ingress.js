#!/usr/bin/env node
/*
 * The built ingress started from the environment exactly as dist/main.js does, in a process
 * run with --expose-gc: on the IPC message 'measure' it collects garbage and answers
 * process.memoryUsage(), so a test reads what connections really retain rather than what the
 * collector has not reached yet.
 */
'use strict';
const { loadIngressConfig, startIngress } = require('../../dist');
const { createLogger } = require('@outbound/core');

(async () => {
  const { config } = loadIngressConfig();
  const handle = await startIngress(config, { logger: createLogger({ service: 'ingress', level: config.logLevel }) });
  process.on('message', (message) => {
    if (message !== 'measure') return;
    global.gc();
    global.gc();
    process.send(process.memoryUsage());
  });
  process.on('SIGTERM', () => handle.stop().then(() => process.exit(0)));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
