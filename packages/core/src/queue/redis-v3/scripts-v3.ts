import { resolve } from 'node:path';
import type { RedisClient } from '../../redis/connection';
import { pruneInclude } from './lua-prune';
import { FunctionScripts, type FunctionLibrary } from '../redis/function-library';
import { familyInclude, familySource, INCLUDE, loadFamilyScript, QUEUE_SCRIPTS, SCRIPT_FLAGS, type ScriptFamily } from '../redis/scripts';

export type { Arg } from '../redis/scripts';

/** The v3 Lua, beside this loader (the build copies it into dist/, scripts/copy-assets.js). */
export const LUA_DIR_V3 = resolve(__dirname, 'lua');

/** Bump when any v3 script's behaviour changes (scripts are registered under versioned names). */
export const SCRIPT_VERSION_V3 = 23;

/**
 * The v3 layout has the operations of v2 and trims finished records to a byte budget. Each
 * script takes one key, the shard prefix (keys-v3.ts scriptKeys), and names the shard's keys
 * from it (lua/includes/v3.lua).
 */
export const V3_SCRIPTS = Object.fromEntries([...Object.keys(QUEUE_SCRIPTS), 'trim-finished'].map((name) => [name, 1])) as Readonly<
  Record<keyof typeof QUEUE_SCRIPTS | 'trim-finished', 1>
>;

export type V3ScriptName = keyof typeof V3_SCRIPTS;

/** The same `#!lua` flags as the v2 scripts (redis/scripts.ts SCRIPT_FLAGS says why); trimming frees memory, so it runs at OOM. */
export const V3_SCRIPT_FLAGS: Readonly<Record<V3ScriptName, string>> = { ...SCRIPT_FLAGS, 'trim-finished': 'allow-oom' };

/** e.g. `outbound_l3v1_claim`: never the name of a v2 script. Also the script's function in the library. */
export function commandNameV3(name: V3ScriptName): string {
  return `outbound_l3v${SCRIPT_VERSION_V3}_${name.replace(/-/g, '_')}`;
}

/**
 * Each script gets only the helpers of includes/v3.lua it uses (lua-prune.ts says why), and
 * starts with begin(KEYS) (the include's per-call setup).
 */
const V3_FAMILY: ScriptFamily<V3ScriptName> = {
  dir: LUA_DIR_V3,
  keyCounts: V3_SCRIPTS,
  flags: V3_SCRIPT_FLAGS,
  commandName: commandNameV3,
  inline: (include, script) => `${pruneInclude(include, `${script}\nbegin`)}\nbegin(KEYS)`,
};

/** `<name>-<keys>.lua` with its includes inlined and its `#!lua` line. */
export function loadScriptV3(name: V3ScriptName): string {
  return loadFamilyScript(V3_FAMILY, name);
}

/** The function library every release of the v3 layout loads under (each replaces the last). */
export const LIBRARY_V3 = 'outbound_v3';

/**
 * The v3 scripts as one function library: includes/v3.lua once, at the top (its helpers made
 * when the library loads), then each script's body as the function commandNameV3(name), which
 * starts with begin(KEYS) and has the script's flags.
 */
export function functionLibraryV3(): string {
  const parts = [`#!lua name=${LIBRARY_V3}`, `-- Outbound Redis layout v3, script version ${SCRIPT_VERSION_V3}`, familyInclude(V3_FAMILY, 'v3')];
  for (const name of Object.keys(V3_SCRIPTS) as V3ScriptName[]) {
    const body = familySource(V3_FAMILY, name).replace(INCLUDE, '');
    const flags = V3_SCRIPT_FLAGS[name] ? `'${V3_SCRIPT_FLAGS[name]}'` : '';
    parts.push(`redis.register_function{function_name = '${commandNameV3(name)}', flags = {${flags}}, callback = function(KEYS, ARGV)\nbegin(KEYS)\n${body}\nend}`);
  }
  return `${parts.join('\n')}\n`;
}

let cachedLibrary: string | undefined;
const LIBRARY: FunctionLibrary<V3ScriptName> = {
  name: LIBRARY_V3,
  version: SCRIPT_VERSION_V3,
  functionName: commandNameV3,
  versionOf: (fn) => {
    const version = /^outbound_l3v(\d+)_/.exec(fn)?.[1];
    return version === undefined ? undefined : Number(version);
  },
  get code() {
    return (cachedLibrary ??= functionLibraryV3());
  },
};


/**
 * Runs the v3 scripts on a client: as the function library where Redis takes it, else as
 * scripts (EVALSHA, EVAL once per node); function-library.ts says when which. functions false:
 * always the scripts.
 */
export class ScriptsV3 extends FunctionScripts<V3ScriptName> {
  constructor(client: RedisClient, options: { functions?: boolean } = {}) {
    super(client, V3_FAMILY, options.functions === false ? undefined : LIBRARY);
  }
}
