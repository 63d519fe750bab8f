import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RedisClient } from '../../redis/connection';

/** packages/core/lua, from both src/queue/redis and dist/queue/redis. */
export const LUA_DIR = resolve(__dirname, '../../../lua');

/**
 * Bump when any script's behaviour changes: the scripts are registered under versioned names
 * (and run by their SHA), so two releases can share one Redis during a rolling deploy.
 */
export const SCRIPT_VERSION = 2;

/** Script file stem -> number of KEYS (the file's suffix). */
export const QUEUE_SCRIPTS = {
  enqueue: 10,
  claim: 11,
  promote: 10,
  ack: 10,
  fail: 10,
  release: 10,
  'device-offline': 10,
  'device-online': 10,
  reclaim: 10,
  expire: 10,
  cancel: 10,
  get: 10,
  'list-device': 10,
  stats: 10,
  'list-dead': 10,
  'replay-dead': 10,
  'purge-dead': 10,
} as const;

export type QueueScriptName = keyof typeof QUEUE_SCRIPTS;

const INCLUDE = /^--\s*@include\s+(\S+)\s*$/gm;

/** Reads `<name>-<keys>.lua` and inlines its `-- @include x` lines from lua/includes/x.lua. */
export function loadScript(name: QueueScriptName): string {
  const source = readFileSync(resolve(LUA_DIR, `${name}-${QUEUE_SCRIPTS[name]}.lua`), 'utf8');
  return source.replace(INCLUDE, (_, include: string) => readFileSync(resolve(LUA_DIR, 'includes', `${include}.lua`), 'utf8'));
}

/** The ioredis command name a script is registered under, e.g. `outbound_v1_claim`. */
export function commandName(name: QueueScriptName): string {
  return `outbound_v${SCRIPT_VERSION}_${name.replace(/-/g, '_')}`;
}

type ScriptFn = (...args: Array<string | number | Buffer>) => Promise<unknown>;

/**
 * Registers every queue script on a client (ioredis defineCommand: EVALSHA, falling back to
 * EVAL once per node) and answers typed callers. `buffers` variants return bulk strings as
 * Buffers, which the payload and result fields need.
 */
export class QueueScripts {
  constructor(private readonly client: RedisClient) {
    for (const name of Object.keys(QUEUE_SCRIPTS) as QueueScriptName[]) {
      const cmd = commandName(name);
      if (!(cmd in client)) client.defineCommand(cmd, { numberOfKeys: QUEUE_SCRIPTS[name], lua: loadScript(name) });
    }
  }

  run(name: QueueScriptName, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
    return this.fn(commandName(name))(...keys, ...args);
  }

  runBuffer(name: QueueScriptName, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> {
    return this.fn(`${commandName(name)}Buffer`)(...keys, ...args);
  }

  private fn(cmd: string): ScriptFn {
    const fn = (this.client as unknown as Record<string, ScriptFn>)[cmd];
    return fn.bind(this.client);
  }
}
