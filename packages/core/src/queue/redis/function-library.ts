import Redis, { Cluster, ReplyError } from 'ioredis';
import type { RedisClient } from '../../redis/connection';
import { sendEncoded } from '../../redis/resp';
import { LuaScripts, type Arg, type ScriptFamily } from './scripts';

/**
 * A family's scripts as one Redis function library (`FUNCTION LOAD`, then `FCALL`): the
 * library's helpers are defined once when it loads, where a script defines them again on every
 * call (about 45k of a script call's 100k instructions before its first item).
 */
export interface FunctionLibrary<N extends string> {
  /** One name for every release of the layout: a newer release's library replaces an older one. */
  name: string;
  /** The release's script version; function names carry it, so two releases never share one. */
  version: number;
  /** The function a script is registered as, e.g. `outbound_l3v8_claim`. */
  functionName(name: N): string;
  /** Reads a function name's version back (undefined: not one of this library's). */
  versionOf(functionName: string): number | undefined;
  /** The library's source, `#!lua name=<name>` first. */
  code: string;
}

/** How long a process runs the scripts before it tries loading the library again, after Redis refused it. */
export const FUNCTION_RETRY_MS = 30_000;

type Mode = 'functions' | 'scripts';

/**
 * Runs a family through its function library where Redis takes it, else through the scripts
 * (EVALSHA, LuaScripts). Before the first call, and again after a refusal once
 * FUNCTION_RETRY_MS has passed, every master (all of a Cluster's) is checked with `FUNCTION
 * LIST` and given the library with `FUNCTION LOAD REPLACE` unless it holds this very code. The
 * scripts run instead while:
 * - Redis refuses `FUNCTION LOAD`: at `maxmemory` (the scripts that drain carry `allow-oom`
 *   and still run there), before 7.0 (no functions), or an ACL without `@scripting`;
 * - a master holds the library of a newer release (an older release never replaces it: during a
 *   rolling deploy the old processes run scripts, the new ones functions).
 * A call answered "Function not found" (the library was deleted or replaced by a newer release,
 * or a Cluster node joined without it) checks the masters again and is sent once more.
 */
export class FunctionScripts<N extends string> extends LuaScripts<N> {
  private mode: Promise<Mode> | undefined;
  /** `mode` once it has answered 'functions': calls then go straight to FCALL, with no wait on it. */
  private libraryLoaded: Promise<Mode> | undefined;
  private retryAt = 0;

  constructor(
    private readonly redis: RedisClient,
    family: ScriptFamily<N>,
    private readonly library: FunctionLibrary<N> | undefined,
  ) {
    super(redis, family);
  }

  /** Which way the calls go now (after the check a first call makes). */
  async path(): Promise<Mode> {
    return this.library ? this.install() : 'scripts';
  }

  override async run(name: N, keys: string[], args: Arg[]): Promise<unknown> {
    return this.callFunction(name, keys, args, false, () => super.run(name, keys, args));
  }

  override async runBuffer(name: N, keys: string[], args: Arg[]): Promise<unknown> {
    return this.callFunction(name, keys, args, true, () => super.runBuffer(name, keys, args));
  }

  private async callFunction(name: N, keys: string[], args: Arg[], buffers: boolean, script: () => Promise<unknown>): Promise<unknown> {
    const ready = this.mode !== undefined && this.mode === this.libraryLoaded;
    if (!this.library || (!ready && (await this.install()) === 'scripts')) return script();
    const checked = this.mode;
    const head = [this.library.functionName(name), keys.length, ...keys];
    // Encoded in one pass (redis/resp.ts): a call carries hundreds of items' arguments.
    const fcall = (): Promise<unknown> => sendEncoded(this.redis, 'FCALL', head, args, buffers);
    try {
      return await fcall();
    } catch (error) {
      if (!isFunctionNotFound(error)) throw error;
      if (this.mode === checked) this.mode = undefined; // calls that failed together look once
      return (await this.install()) === 'functions' ? fcall() : script();
    }
  }

  private install(): Promise<Mode> {
    if (this.mode === undefined) {
      const mode: Promise<Mode> = this.installOnMasters().then((decided) => {
        if (decided === 'functions') this.libraryLoaded = mode;
        return decided;
      }, (error: unknown) => {
        // No answer from Redis (not a refusal): decide with the next call.
        if (this.mode === mode) this.mode = undefined;
        throw error;
      });
      this.mode = mode;
    }
    return this.mode.then((mode) => {
      if (mode === 'scripts' && Date.now() >= this.retryAt) this.mode = undefined;
      return mode;
    });
  }

  private async installOnMasters(): Promise<Mode> {
    const masters = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    if (masters.length === 0) return this.scriptsFor(0); // a Cluster client before its first slots map: ask again next call
    try {
      for (const master of masters) if (!(await this.installOn(master))) return this.scriptsFor(Number.POSITIVE_INFINITY);
      return 'functions';
    } catch (error) {
      if (error instanceof ReplyError) return this.scriptsFor(FUNCTION_RETRY_MS);
      throw error;
    }
  }

  private scriptsFor(ms: number): Mode {
    this.retryAt = Date.now() + ms;
    return 'scripts';
  }

  /** Loads the library on one master unless it holds this code; false when it holds a newer release's. */
  private async installOn(master: Redis): Promise<boolean> {
    const library = this.library!;
    const listed = (await master.call('FUNCTION', 'LIST', 'LIBRARYNAME', library.name, 'WITHCODE')) as unknown[];
    for (const entry of listed) {
      const fields = pairs(entry as unknown[]);
      if (fields.get('library_name') !== library.name) continue;
      if (fields.get('library_code') === library.code) return true;
      const versions = ((fields.get('functions') ?? []) as unknown[]).map((f) => library.versionOf(String(pairs(f as unknown[]).get('name'))) ?? 0);
      if (Math.max(0, ...versions) > library.version) return false;
    }
    await master.call('FUNCTION', 'LOAD', 'REPLACE', library.code);
    return true;
  }
}

function pairs(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}

function isFunctionNotFound(error: unknown): boolean {
  return error instanceof ReplyError && /^ERR Function not found/i.test((error as Error).message);
}
