import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../redis/connection';

/** packages/core/lua, from both src/queue/redis and dist/queue/redis. */
export const LUA_DIR = resolve(__dirname, '../../../lua');

/**
 * Bump when any script's behaviour changes: the scripts are registered under versioned names
 * (and run by their SHA), so two releases can share one Redis during a rolling deploy.
 */
export const SCRIPT_VERSION = 7;

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
  'cancel-device': 10,
  get: 10,
  'list-device': 10,
  stats: 10,
  'list-dead': 10,
  'replay-dead': 10,
  'purge-dead': 10,
} as const;

/**
 * The Redis 7 `#!lua` flags each script is declared with (Redis checks them before the script
 * runs). A script without `allow-oom` is refused as a whole under OOM, before it writes
 * anything: an enqueue batch is stored entirely or not at all. Scripts that drain the queue
 * (claim, record an outcome, return leases, expire, cancel, purge) carry `allow-oom`: they
 * write little and mostly free memory, and a full Redis must still deliver what it holds.
 * Enqueue and replay-dead add work, so they never do. Read-only scripts say `no-writes`.
 */
export const SCRIPT_FLAGS: Record<QueueScriptName, string> = {
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
  'cancel-device': 'allow-oom',
  'purge-dead': 'allow-oom',
  // list-dead drops index entries whose record is gone: a removal.
  'list-dead': 'allow-oom',
  get: 'no-writes',
  'list-device': 'no-writes',
  stats: 'no-writes',
};

export type QueueScriptName = keyof typeof QUEUE_SCRIPTS;

/** A script's `-- @include <x>` lines (global: for String.replace). */
export const INCLUDE = /^--\s*@include\s+(\S+)\s*$/gm;

/**
 * One family of Lua scripts: where its files are, each script's KEYS count and `#!lua` flags,
 * and the versioned name it is registered under. The v2 and v3 layouts are two such families
 * loaded and run by the same code.
 */
export interface ScriptFamily<N extends string> {
  /** Holds `<name>-<keys>.lua` and `includes/<x>.lua`. */
  dir: string;
  keyCounts: Readonly<Record<N, number>>;
  flags: Readonly<Record<N, string>>;
  /** The ioredis command name, versioned so two releases can share one Redis. */
  commandName(name: N): string;
  /** What of an include a script gets (default: all of it). */
  inline?(include: string, script: string): string;
}

/**
 * Reads `<name>-<keys>.lua`, inlines its `-- @include x` lines from includes/x.lua and
 * prepends the script's `#!lua` line (its flags).
 */
export function loadFamilyScript<N extends string>(family: ScriptFamily<N>, name: N): string {
  const source = familySource(family, name);
  const inlined = source.replace(INCLUDE, (_, include: string) => {
    const text = familyInclude(family, include);
    return family.inline ? family.inline(text, source) : text;
  });
  return withShebang(inlined, family.flags[name]);
}

/** `<name>-<keys>.lua` as written, its `-- @include` lines in place. */
export function familySource<N extends string>(family: ScriptFamily<N>, name: N): string {
  return readFileSync(resolve(family.dir, `${name}-${family.keyCounts[name]}.lua`), 'utf8');
}

/** includes/<include>.lua with the includes it names inlined: the family's own includes/ first, then the shared one. */
export function familyInclude<N extends string>(family: ScriptFamily<N>, include: string): string {
  const own = resolve(family.dir, 'includes', `${include}.lua`);
  const text = readFileSync(existsSync(own) ? own : resolve(LUA_DIR, 'includes', `${include}.lua`), 'utf8');
  return text.replace(INCLUDE, (_, nested: string) => familyInclude(family, nested));
}

/** `#!lua flags=<flags>` (or a bare `#!lua`) on the first line of a script's source. */
export function withShebang(source: string, flags: string): string {
  return `#!lua${flags ? ` flags=${flags}` : ''}\n${source}`;
}

/** The ioredis command name a script is registered under, e.g. `outbound_v1_claim`. */
export function commandName(name: QueueScriptName): string {
  return `outbound_v${SCRIPT_VERSION}_${name.replace(/-/g, '_')}`;
}

/** The v2 layout's scripts (packages/core/lua). */
export const QUEUE_SCRIPT_FAMILY: ScriptFamily<QueueScriptName> = { dir: LUA_DIR, keyCounts: QUEUE_SCRIPTS, flags: SCRIPT_FLAGS, commandName };

/** A v2 script's source as Redis receives it. */
export function loadScript(name: QueueScriptName): string {
  return loadFamilyScript(QUEUE_SCRIPT_FAMILY, name);
}

type ScriptFn = (...args: Array<string | number | Buffer>) => Promise<unknown>;
export type Arg = string | number | Buffer;

/**
 * Registers every script of a family on a client (ioredis defineCommand: EVALSHA, falling back
 * to EVAL once per node) and answers typed callers. `runBuffer` returns bulk strings as
 * Buffers, which the payload and result fields need.
 */
export class LuaScripts<N extends string> {
  private readonly sources = new Map<N, string>();

  constructor(
    private readonly client: RedisClient,
    private readonly family: ScriptFamily<N>,
  ) {
    for (const name of Object.keys(family.keyCounts) as N[]) {
      const cmd = family.commandName(name);
      const lua = loadFamilyScript(family, name);
      this.sources.set(name, lua);
      if (!(cmd in client)) client.defineCommand(cmd, { numberOfKeys: family.keyCounts[name], lua });
    }
  }

  run(name: N, keys: string[], args: Arg[]): Promise<unknown> {
    return this.loaded(name, () => this.fn(this.family.commandName(name))(...keys, ...args));
  }

  runBuffer(name: N, keys: string[], args: Arg[]): Promise<unknown> {
    return this.loaded(name, () => this.fn(`${this.family.commandName(name)}Buffer`)(...keys, ...args));
  }

  /**
   * ioredis loads a script with its first EVAL on a connection, then sends EVALSHA. An EVAL that
   * Redis refuses before running (OOM for a script without allow-oom) is not cached, so the
   * calls that went out with EVALSHA meanwhile answer NOSCRIPT instead of why it was refused:
   * SCRIPT LOAD (allowed at OOM) and ask once more, so they answer the real reason.
   */
  private async loaded<T>(name: N, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!/^NOSCRIPT/.test((error as Error).message ?? '') || this.client instanceof Cluster) throw error;
      await this.client.script('LOAD', this.sources.get(name)!);
      return call();
    }
  }

  private fn(cmd: string): ScriptFn {
    const fn = (this.client as unknown as Record<string, ScriptFn>)[cmd];
    return fn!.bind(this.client);
  }
}

/** The v2 layout's scripts on one client. */
export class QueueScripts extends LuaScripts<QueueScriptName> {
  constructor(client: RedisClient) {
    super(client, QUEUE_SCRIPT_FAMILY);
  }
}
