import { resolve } from 'node:path';
import type { RedisClient } from '../../redis/connection';
import { pruneInclude } from './lua-prune';
import { LuaScripts, loadFamilyScript, QUEUE_SCRIPTS, SCRIPT_FLAGS, type ScriptFamily } from '../redis/scripts';

export type { Arg } from '../redis/scripts';

/** The v3 Lua, beside this loader (the build copies it into dist/, scripts/copy-assets.js). */
export const LUA_DIR_V3 = resolve(__dirname, 'lua');

/** Bump when any v3 script's behaviour changes (scripts are registered under versioned names). */
export const SCRIPT_VERSION_V3 = 7;

/** The v3 layout has the operations of v2, with the same KEYS counts, and trims finished records to a byte budget. */
export const V3_SCRIPTS = { ...QUEUE_SCRIPTS, 'trim-finished': 10 } as const;

export type V3ScriptName = keyof typeof V3_SCRIPTS;

/** The same `#!lua` flags as the v2 scripts (redis/scripts.ts SCRIPT_FLAGS says why); trimming frees memory, so it runs at OOM. */
export const V3_SCRIPT_FLAGS: Readonly<Record<V3ScriptName, string>> = { ...SCRIPT_FLAGS, 'trim-finished': 'allow-oom' };

/** e.g. `outbound_l3v1_claim`: never the name of a v2 script. */
export function commandNameV3(name: V3ScriptName): string {
  return `outbound_l3v${SCRIPT_VERSION_V3}_${name.replace(/-/g, '_')}`;
}

/** Each script gets only the helpers of includes/v3.lua it uses (lua-prune.ts says why). */
const V3_FAMILY: ScriptFamily<V3ScriptName> = { dir: LUA_DIR_V3, keyCounts: V3_SCRIPTS, flags: V3_SCRIPT_FLAGS, commandName: commandNameV3, inline: pruneInclude };

/** `<name>-<keys>.lua` with its includes inlined and its `#!lua` line. */
export function loadScriptV3(name: V3ScriptName): string {
  return loadFamilyScript(V3_FAMILY, name);
}

/** Registers the v3 scripts on a client (EVALSHA, EVAL once per node) and runs them. */
export class ScriptsV3 extends LuaScripts<V3ScriptName> {
  constructor(client: RedisClient) {
    super(client, V3_FAMILY);
  }
}
