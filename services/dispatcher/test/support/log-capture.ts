import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@outbound/core';

/** One JSON log line as pino wrote it. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** A real pino logger writing to an in-memory stream; `lines` holds every line written, parsed. */
export function captureLogs(service: string): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  let partial = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ service, level: 'info', destination }), lines };
}
