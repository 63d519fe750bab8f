import { InvalidArgumentError, type Command } from 'commander';
import { EVENT_TYPES, type EventType, type StreamedEvent } from '@outbound/client';
import { clientFor, withApiOptions, type ApiFlags } from '../api-flags';
import { integer } from './enqueue';

interface EventsFlags extends ApiFlags {
  follow: boolean;
  types?: EventType[];
  phyId?: string;
  after?: string;
  count?: number;
  idleMs: number;
}

function eventTypes(text: string): EventType[] {
  const types = text.split(',').map((t) => t.trim()).filter(Boolean);
  const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0 || types.length === 0) throw new InvalidArgumentError(`unknown event type ${unknown.join(', ') || '(none)'}; known: ${EVENT_TYPES.join(', ')}`);
  return types as EventType[];
}

function eventLine(e: StreamedEvent): string {
  const details = Object.entries(e.details).map(([k, v]) => `${k}=${v}`).join(' ');
  return [new Date(e.time).toISOString(), e.type.padEnd(17), e.phyId, e.commandId ?? '-', e.attempt === undefined ? '' : `attempt ${e.attempt}`, details].join('  ').trimEnd();
}

/**
 * `outbound events`: the event log. Without --follow: the events retained (or those after
 * --after), then it exits once none has come for --idle-ms. With --follow: from now on (or after
 * --after), until interrupted, reconnecting and resuming after a disconnect.
 */
export function register(program: Command): void {
  withApiOptions(
    program.command('events').description('print events (one per line; --json: one JSON object per line)')
      .option('-f, --follow', 'keep printing new events until interrupted (default: print those retained, then exit)', false)
      .option('--types <types>', `comma-separated event types (${EVENT_TYPES.join(', ')})`, eventTypes)
      .option('--phy-id <phyId>', "only this device's events")
      .option('--after <cursor>', 'start after this event cursor (printed with --json)')
      .option('--count <n>', 'exit after this many events', integer(1))
      .option('--idle-ms <ms>', 'without --follow: exit once no event came for this long', integer(1), 1_000),
  ).action(async (flags: EventsFlags) => {
    const client = clientFor(flags);
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    let idle: NodeJS.Timeout | undefined;
    const quietFor = () => {
      clearTimeout(idle);
      if (!flags.follow) idle = setTimeout(stop, flags.idleMs);
    };
    let printed = 0;
    try {
      quietFor();
      const after = flags.after ?? (flags.follow ? undefined : 'oldest');
      for await (const event of client.events({ types: flags.types, phyId: flags.phyId, after, signal: controller.signal })) {
        process.stdout.write(`${flags.json ? JSON.stringify(event) : eventLine(event)}\n`);
        printed += 1;
        if (flags.count !== undefined && printed >= flags.count) break;
        quietFor();
      }
    } finally {
      clearTimeout(idle);
      process.removeListener('SIGINT', stop);
    }
  });
}
