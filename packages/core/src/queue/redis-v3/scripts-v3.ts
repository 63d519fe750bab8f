import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../redis/connection';
import { withShebang } from '../redis/scripts';

/** The v3 Lua, beside this loader (the build copies it into dist/, scripts/copy-assets.js). */
export const LUA_DIR_V3 = resolve(__dirname, 'lua');

/** Bump when any v3 script's behaviour changes (scripts are registered under versioned names). */
export const SCRIPT_VERSION_V3 = 1;

/** Script file stem -> number of KEYS (the file's suffix). */
export const V3_SCRIPTS = {
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

export type V3ScriptName = keyof typeof V3_SCRIPTS;

/** The same `#!lua` flags as the v2 scripts (redis/scripts.ts SCRIPT_FLAGS says why). */
export const V3_SCRIPT_FLAGS: Record<V3ScriptName, string> = {
  enqueue: '',
  'replay-dead': '',
  claim: 'allow-oom',
  promote: 'allow-oom',
  ack: 'allow-oom',
  fail: 'allow-oom',
  release: 'allow-oom',
  'device-offline': 'allow-oom',
  'device-online': 'allow-oom',
  reclaim: 'allow-oom',
  expire: 'allow-oom',
  cancel: 'allow-oom',
  'purge-dead': 'allow-oom',
  'list-dead': 'allow-oom',
  get: 'no-writes',
  'list-device': 'no-writes',
  stats: 'no-writes',
};

const INCLUDE = /^--\s*@include\s+(\S+)\s*$/gm;

/** `<name>-<keys>.lua` with its includes inlined and its `#!lua` line. */
export function loadScriptV3(name: V3ScriptName): string {
  const source = readFileSync(resolve(LUA_DIR_V3, `${name}-${V3_SCRIPTS[name]}.lua`), 'utf8');
  return withShebang(source.replace(INCLUDE, (_, include: string) => readFileSync(resolve(LUA_DIR_V3, 'includes', `${include}.lua`), 'utf8')), V3_SCRIPT_FLAGS[name]);
}

/** e.g. `outbound_l3v1_claim`: never the name of a v2 script. */
export function commandNameV3(name: V3ScriptName): string {
  return `outbound_l3v${SCRIPT_VERSION_V3}_${name.replace(/-/g, '_')}`;
}

type ScriptFn = (...args: Array<string | number | Buffer>) => Promise<unknown>;
export type Arg = string | number | Buffer;

/** Registers the v3 scripts on a client (EVALSHA, EVAL once per node) and runs them. */
export class ScriptsV3 {
  private readonly sources = new Map<V3ScriptName, string>();

  constructor(private readonly client: RedisClient) {
    for (const name of Object.keys(V3_SCRIPTS) as V3ScriptName[]) {
      const cmd = commandNameV3(name);
      const lua = loadScriptV3(name);
      this.sources.set(name, lua);
      if (!(cmd in client)) client.defineCommand(cmd, { numberOfKeys: V3_SCRIPTS[name], lua });
    }
  }

  /** Bulk strings as text. */
  run(name: V3ScriptName, keys: string[], args: Arg[]): Promise<unknown> {
    return this.loaded(name, () => this.fn(commandNameV3(name))(...keys, ...args));
  }

  /** Bulk strings as Buffers (records). */
  runBuffer(name: V3ScriptName, keys: string[], args: Arg[]): Promise<unknown> {
    return this.loaded(name, () => this.fn(`${commandNameV3(name)}Buffer`)(...keys, ...args));
  }

  /** A NOSCRIPT after a refused first EVAL (OOM): load once and ask again (redis/scripts.ts says why). */
  private async loaded<T>(name: V3ScriptName, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!/^NOSCRIPT/.test((error as Error).message ?? '') || this.client instanceof Cluster) throw error;
      await this.client.script('LOAD', this.sources.get(name)!);
      return call();
    }
  }

  private fn(cmd: string): ScriptFn {
    return ((this.client as unknown as Record<string, ScriptFn>)[cmd]!).bind(this.client);
  }
}
