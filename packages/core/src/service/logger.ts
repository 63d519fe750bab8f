import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths never written to logs, wherever they appear. */
const REDACT = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret', 'apiKeys', '*.apiKeys',
  'req.headers.authorization', 'headers.authorization', 'internalToken', '*.internalToken',
];

/**
 * JSON logs on stdout, one line per event, with the service name on every line.
 * Child loggers carry `phyId` and `commandId` where they apply.
 */
export function createLogger(options: { service: string; level?: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
