/**
 * The cost floor of a script layout: the Redis commands its scripts ran, captured with MONITOR
 * (Redis 7 shows each command a script or function runs, as `[db lua]`, right after the call
 * that ran it), and replayed with the same keys and arguments by functions that do nothing
 * else, their arguments constants of the function (queue-layouts.ts, `BENCH_SECTIONS=floor`). What the replay costs is the data-structure
 * work the commands themselves do, with the least Lua a script can have around them; what a
 * layout costs beyond it is its own logic, packing and replies.
 */
import { connect, type Socket } from 'node:net';

/** One script or function call and the commands it ran, in order. */
export interface CapturedCall {
  /** the function or script called: FCALL's function name, or the EVALSHA digest */
  script: string;
  commands: Buffer[][];
}

/** A MONITOR line: its source (`lua` for a script's own commands, else the client's address) and arguments as bytes. */
export interface MonitorLine {
  source: string;
  args: Buffer[];
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, '\\': 92 };

/**
 * Reads one MONITOR line (`1700000000.123456 [0 lua] "SET" "k" "v\x01"`): Redis quotes each
 * argument and escapes `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, and any other byte outside
 * printable ASCII as `\xHH` (sdscatrepr). Answers null for anything else (the `+OK` of MONITOR).
 */
export function parseMonitorLine(line: string): MonitorLine | null {
  const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
  if (!m) return null;
  const args: Buffer[] = [];
  let i = m[0].length;
  while (i < line.length) {
    if (line[i] !== '"') return null;
    i += 1;
    const bytes: number[] = [];
    for (;;) {
      if (i >= line.length) return null;
      const c = line[i]!;
      if (c === '"') break;
      if (c === '\\') {
        const next = line[i + 1]!;
        if (next === 'x') {
          bytes.push(parseInt(line.slice(i + 2, i + 4), 16));
          i += 4;
          continue;
        }
        const code = ESCAPES[next];
        if (code === undefined) return null;
        bytes.push(code);
        i += 2;
        continue;
      }
      bytes.push(c.charCodeAt(0));
      i += 1;
    }
    args.push(Buffer.from(bytes));
    i += 1; // the closing quote
    if (line[i] === ' ') i += 1;
  }
  return { source: m[1]!, args };
}

/**
 * Groups MONITOR lines into script calls: a client's FCALL / FCALL_RO / EVALSHA / EVAL opens a
 * call, the `lua` lines after it are its commands. Other clients' commands are not kept.
 */
export class CallGrouper {
  readonly calls: CapturedCall[] = [];
  private current: CapturedCall | null = null;

  add(line: MonitorLine): void {
    if (line.source === 'lua') {
      this.current?.commands.push(line.args);
      return;
    }
    const name = line.args[0]?.toString('latin1').toLowerCase();
    if (name === 'fcall' || name === 'fcall_ro' || name === 'evalsha' || name === 'eval' || name === 'evalsha_ro' || name === 'eval_ro') {
      this.current = { script: line.args[1]?.toString('latin1') ?? '', commands: [] };
      this.calls.push(this.current);
    } else {
      this.current = null;
    }
  }
}

/**
 * A MONITOR connection to `port` on 127.0.0.1 that keeps the script calls it sees. stop() waits
 * until it has read everything Redis ran before it (an ECHO of a marker sent after the work)
 * and answers the calls.
 */
export class ScriptCapture {
  private readonly grouper = new CallGrouper();
  private pending = '';
  private readonly marker = `floor-capture-end-${process.pid}-${Date.now()}`;
  private sawMarker: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.read(chunk));
  }

  static async start(port: number): Promise<ScriptCapture> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const capture = new ScriptCapture(socket);
    const ok = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('MONITOR\r\n');
    await ok;
    return capture;
  }

  private read(chunk: string): void {
    this.pending += chunk;
    let end = this.pending.indexOf('\r\n');
    while (end >= 0) {
      const raw = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      end = this.pending.indexOf('\r\n');
      if (!raw.startsWith('+')) continue;
      const line = parseMonitorLine(raw.slice(1));
      if (!line) continue;
      if (line.source !== 'lua' && line.args.length === 2 && line.args[1]!.toString('latin1') === this.marker) {
        this.sawMarker?.();
        continue;
      }
      this.grouper.add(line);
    }
  }

  /** Sends the marker through `client` (any connection to the same server) and answers what was captured up to it. */
  async stop(client: { echo(message: string): Promise<string> }): Promise<CapturedCall[]> {
    const seen = new Promise<void>((resolve) => {
      this.sawMarker = resolve;
    });
    await client.echo(this.marker);
    await seen;
    this.socket.destroy();
    return this.grouper.calls;
  }
}

/** A Lua string literal of `bytes`: printable ASCII as it is, any other byte (and the quote and the backslash) as a three-digit decimal escape. */
export function luaString(bytes: Buffer): string {
  let out = '"';
  for (const b of bytes) out += b >= 32 && b < 127 && b !== 34 && b !== 92 ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  return `${out}"`;
}

/** The replay function of call `index` (its name in floorLibrary). */
export const floorFunction = (index: number): string => `outbound_floor_${index}`;

/**
 * The replay as one function library: a function per captured call (floorFunction(i)) that
 * runs that call's commands, those `keep` keeps, with their arguments as constants of the
 * function (made once, when the library loads) and nothing else. A command of more than 200
 * arguments (Lua's registers are fewer) goes through unpack of a table. A call with nothing
 * kept gets no function (null at its index in `functions`).
 */
export function floorLibrary(calls: readonly CapturedCall[], keep: (command: Buffer[]) => boolean = () => true): { code: string; functions: Array<string | null> } {
  const parts = ['#!lua name=outbound_floor'];
  const functions = calls.map((call, i) => {
    const commands = call.commands.filter(keep);
    if (commands.length === 0) return null;
    const body = commands.map((command) => {
      const args = command.map(luaString).join(',');
      return command.length > 200 ? `redis.call(unpack({${args}}))` : `redis.call(${args})`;
    });
    parts.push(`redis.register_function('${floorFunction(i)}', function()\n${body.join('\n')}\nreturn 0 end)`);
    return floorFunction(i);
  });
  return { code: `${parts.join('\n')}\n`, functions };
}

/** The script's kind from its function name (`outbound_l3v15_enqueue` → `enqueue`), else the name as it is. */
export function scriptKind(script: string): string {
  return /^outbound_l\d+v\d+_(.+)$/.exec(script)?.[1] ?? script;
}

/** Calls per command by script kind and command name (upper case), over `commands` commands. */
export function commandsByScript(calls: readonly CapturedCall[], commands: number): Array<{ script: string; command: string; perCommand: number }> {
  const counts = new Map<string, number>();
  for (const call of calls) {
    const kind = scriptKind(call.script);
    for (const command of call.commands) {
      const key = `${kind}\t${command[0]!.toString('latin1').toUpperCase()}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts]
    .map(([key, n]) => {
      const [script, command] = key.split('\t') as [string, string];
      return { script, command, perCommand: n / commands };
    })
    .sort((a, b) => a.script.localeCompare(b.script) || b.perCommand - a.perCommand);
}
