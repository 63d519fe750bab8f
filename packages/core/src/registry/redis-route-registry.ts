import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isOutboundError } from '../errors';
import { classifyRedisError } from '../queue/redis/redis-errors';
import { withShebang } from '../queue/redis/scripts';
import type { RedisClient } from '../redis/connection';
import type { DeviceRoute, DispatcherInfo, ReplicaInfo, RouteRegistry } from './route-registry';
import { RegistryKeys } from './redis-registry-keys';

/**
 * Scripts are registered under a versioned name so two releases can share one Redis during a
 * rolling deploy; bump the suffix when a script's contract changes. Route writes carry
 * `allow-oom` (`#!lua` flags): a Redis that is full must still record where devices are, or
 * nothing it holds can be delivered.
 */
const SCRIPTS = {
  register: { name: 'outboundRegistryRegisterV1', file: 'register-3.lua', keys: 3, flags: 'allow-oom' },
  unregister: { name: 'outboundRegistryUnregisterV1', file: 'unregister-2.lua', keys: 2, flags: 'allow-oom' },
  removeReplicaShard: { name: 'outboundRegistryRemoveReplicaShardV1', file: 'remove-replica-shard-2.lua', keys: 2, flags: 'allow-oom' },
  heartbeat: { name: 'outboundRegistryHeartbeatV1', file: 'heartbeat-1.lua', keys: 1, flags: 'allow-oom' },
  dispatcherHeartbeat: { name: 'outboundRegistryDispatcherHeartbeatV1', file: 'dispatcher-heartbeat-1.lua', keys: 1, flags: 'allow-oom' },
  liveReplicas: { name: 'outboundRegistryLiveReplicasV1', file: 'live-replicas-1.lua', keys: 1, flags: 'no-writes' },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptCaller = (...args: Array<string | number>) => Promise<unknown>;

/** Lua lives in packages/core/lua/registry (the same path from src/ and dist/). */
const LUA_DIR = join(__dirname, '..', '..', 'lua', 'registry');

export interface RedisRouteRegistryOptions {
  /** Commands go through this client; the registry makes one duplicate for pub/sub. */
  client: RedisClient;
  /** Key prefix. Default `outbound`. */
  prefix?: string;
  /** Hash-tagged shards routes are spread over. Default 16. */
  shards?: number;
  /** Close `client` in close(). Default false (the caller owns it). */
  ownsClient?: boolean;
}

interface StoredRoute {
  replicaId: string;
  epoch: number;
  address: string;
  connectedAt: number;
  token: string;
}

/**
 * RouteRegistry on Redis (standalone, Sentinel or Cluster): routes sharded by phyId, replica
 * liveness judged by the Redis clock, signals on pub/sub. Every script touches one slot and
 * is safe to run twice.
 */
export class RedisRouteRegistry implements RouteRegistry {
  readonly keys: RegistryKeys;
  private readonly client: RedisClient;
  private readonly ownsClient: boolean;
  private subscriber: RedisClient | undefined;
  private subscribing: Promise<RedisClient> | undefined;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** Distinguishes this process's connections in a re-run of `register`. */
  private readonly tokenBase = randomBytes(6).toString('hex');
  private tokenCounter = 0;

  constructor(options: RedisRouteRegistryOptions) {
    this.client = options.client;
    this.ownsClient = options.ownsClient ?? false;
    this.keys = new RegistryKeys(options.prefix ?? 'outbound', options.shards ?? 16);
    for (const script of Object.values(SCRIPTS)) {
      if (typeof (this.client as unknown as Record<string, unknown>)[script.name] === 'function') continue;
      this.client.defineCommand(script.name, { numberOfKeys: script.keys, lua: withShebang(readFileSync(join(LUA_DIR, script.file), 'utf8'), script.flags) });
    }
  }

  private run(script: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    const caller = (this.client as unknown as Record<string, ScriptCaller>)[SCRIPTS[script].name];
    return caller.apply(this.client, args);
  }

  /** Runs a registry operation; what the driver threw is classified (redis-errors.ts). */
  private async classified<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isOutboundError(error)) throw error;
      throw classifyRedisError(error, operation);
    }
  }

  heartbeat(replica: { replicaId: string; address: string }, ttlMs: number): Promise<void> {
    return this.classified('heartbeat', async () => {
      await this.run('heartbeat', this.keys.replicaInfo(), replica.replicaId, replica.address, Math.max(1, Math.round(ttlMs)));
    });
  }

  removeReplica(replicaId: string): Promise<number> {
    return this.classified('removeReplica', async () => {
      const counts = await Promise.all(
        Array.from({ length: this.keys.shards }, (_, shard) =>
          this.run('removeReplicaShard', this.keys.routes(shard), this.keys.replicaRoutes(shard, replicaId), replicaId),
        ),
      );
      await this.client.hdel(this.keys.replicaInfo(), replicaId);
      return counts.reduce<number>((sum, n) => sum + Number(n), 0);
    });
  }

  register(phyId: string, replica: { replicaId: string; address: string }): Promise<{ epoch: number; previous: DeviceRoute | null }> {
    return this.classified('register', async () => {
      const shard = this.keys.shardOf(phyId);
      const token = `${this.tokenBase}.${++this.tokenCounter}`;
      const [epoch, previous] = (await this.run(
        'register',
        this.keys.routes(shard), this.keys.epochs(shard), this.keys.replicaRoutes(shard, replica.replicaId),
        phyId, replica.replicaId, replica.address, token,
        this.keys.deviceOnlineChannel(), this.keys.supersededChannel(''),
      )) as [number, string];
      return { epoch: Number(epoch), previous: previous ? toRoute(phyId, previous) : null };
    });
  }

  unregister(phyId: string, replicaId: string, epoch: number): Promise<boolean> {
    return this.classified('unregister', async () => {
      const shard = this.keys.shardOf(phyId);
      const removed = await this.run('unregister', this.keys.routes(shard), this.keys.replicaRoutes(shard, replicaId), phyId, replicaId, String(epoch));
      return Number(removed) === 1;
    });
  }

  async lookup(phyId: string): Promise<DeviceRoute | null> {
    return (await this.lookupMany([phyId])).get(phyId) ?? null;
  }

  /**
   * One round trip: the routes and every replica's liveness are read side by side (the
   * replicas are few; which of them the routes name is not known before the routes are read).
   * A route counts when its replica's heartbeat had not lapsed at the read, on the Redis clock.
   */
  lookupMany(phyIds: string[]): Promise<Map<string, DeviceRoute>> {
    return this.classified('lookupMany', async () => {
      const byShard = new Map<number, string[]>();
      for (const phyId of new Set(phyIds)) {
        const shard = this.keys.shardOf(phyId);
        const list = byShard.get(shard);
        if (list) list.push(phyId);
        else byShard.set(shard, [phyId]);
      }
      const result = new Map<string, DeviceRoute>();
      if (byShard.size === 0) return result;
      const routes: DeviceRoute[] = [];
      const [live] = await Promise.all([
        this.liveReplicas([]),
        ...[...byShard].map(async ([shard, ids]) => {
          const values = await this.client.hmget(this.keys.routes(shard), ...ids);
          values.forEach((raw, i) => {
            if (raw) routes.push(toRoute(ids[i], raw));
          });
        }),
      ]);
      for (const route of routes) if (live.has(route.replicaId)) result.set(route.phyId, route);
      return result;
    });
  }

  findRoutes(prefix: string, limit: number): Promise<DeviceRoute[]> {
    return this.classified('findRoutes', async () => {
      const live = await this.liveReplicas([]);
      if (live.size === 0) return [];
      const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
      const found: DeviceRoute[] = [];
      for (let shard = 0; shard < this.keys.shards && found.length < limit; shard++) {
        let cursor = '0';
        do {
          const [next, flat] = await this.client.hscan(this.keys.routes(shard), cursor, 'MATCH', match, 'COUNT', 1000);
          for (let i = 0; i < flat.length; i += 2) {
            const route = toRoute(flat[i], flat[i + 1]);
            if (live.has(route.replicaId)) found.push(route);
          }
          cursor = next;
        } while (cursor !== '0' && found.length < limit);
      }
      return found.sort((a, b) => (a.phyId < b.phyId ? -1 : a.phyId > b.phyId ? 1 : 0)).slice(0, limit);
    });
  }

  listReplicas(): Promise<ReplicaInfo[]> {
    return this.classified('listReplicas', async () => [...(await this.liveReplicas([])).values()].sort((a, b) => a.replicaId.localeCompare(b.replicaId)));
  }

  dispatcherHeartbeat(dispatcher: { id: string; startedAt: number }, ttlMs: number): Promise<void> {
    return this.classified('dispatcherHeartbeat', async () => {
      await this.run('dispatcherHeartbeat', this.keys.dispatcherInfo(), dispatcher.id, Math.round(dispatcher.startedAt), Math.max(1, Math.round(ttlMs)));
    });
  }

  removeDispatcher(id: string): Promise<void> {
    return this.classified('removeDispatcher', async () => {
      await this.client.hdel(this.keys.dispatcherInfo(), id);
    });
  }

  listDispatchers(): Promise<DispatcherInfo[]> {
    return this.classified('listDispatchers', async () => {
      // The live-replicas script answers the unlapsed entries of any hash of {expiresAt, ...}.
      const flat = (await this.run('liveReplicas', this.keys.dispatcherInfo())) as string[];
      const live: DispatcherInfo[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        const info = JSON.parse(flat[i + 1]) as { startedAt: number; lastSeenAt: number };
        live.push({ id: flat[i], startedAt: info.startedAt, lastSeenAt: info.lastSeenAt });
      }
      return live.sort((a, b) => a.id.localeCompare(b.id));
    });
  }

  countRoutes(): Promise<Map<string, number>> {
    return this.classified('countRoutes', async () => {
      const replicas = [...(await this.liveReplicas([])).keys()];
      const shards = Array.from({ length: this.keys.shards }, (_, shard) => shard);
      const counts = await Promise.all(
        replicas.map(async (replicaId) => {
          const perShard = await Promise.all(shards.map((shard) => this.client.scard(this.keys.replicaRoutes(shard, replicaId))));
          return [replicaId, perShard.reduce((sum, n) => sum + n, 0)] as const;
        }),
      );
      return new Map(counts.filter(([, n]) => n > 0));
    });
  }

  private async liveReplicas(replicaIds: string[]): Promise<Map<string, ReplicaInfo>> {
    const flat = (await this.run('liveReplicas', this.keys.replicaInfo(), ...replicaIds)) as string[];
    const live = new Map<string, ReplicaInfo>();
    for (let i = 0; i < flat.length; i += 2) {
      const info = JSON.parse(flat[i + 1]) as { address: string; heartbeatAt: number };
      live.set(flat[i], { replicaId: flat[i], address: info.address, heartbeatAt: info.heartbeatAt });
    }
    return live;
  }

  onDeviceOnline(listener: (phyId: string) => void): Promise<() => Promise<void>> {
    return this.listen(this.keys.deviceOnlineChannel(), listener);
  }

  onSuperseded(replicaId: string, listener: (phyId: string, epoch: number) => void): Promise<() => Promise<void>> {
    return this.listen(this.keys.supersededChannel(replicaId), (message) => {
      const colon = message.indexOf(':');
      if (colon > 0) listener(message.slice(colon + 1), Number(message.slice(0, colon)));
    });
  }

  /** Pub/sub needs its own connection: a subscribed connection cannot run other commands. */
  private async subscriberClient(): Promise<RedisClient> {
    if (this.subscriber) return this.subscriber;
    this.subscribing ??= (async () => {
      const sub = this.client.duplicate();
      sub.on('error', () => undefined); // ioredis reconnects and re-subscribes on its own
      sub.on('message', (channel: string, message: string) => {
        for (const listener of this.listeners.get(channel) ?? []) listener(message);
      });
      this.subscriber = sub;
      return sub;
    })();
    return this.subscribing;
  }

  private async listen(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const sub = await this.subscriberClient();
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await sub.subscribe(channel);
    }
    set.add(listener);
    return async () => {
      const current = this.listeners.get(channel);
      if (!current?.delete(listener) || current.size > 0) return;
      this.listeners.delete(channel);
      if (sub.status === 'ready') await sub.unsubscribe(channel);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    this.subscribing = undefined;
    if (sub) await quietly(sub);
    if (this.ownsClient) await quietly(this.client);
  }
}

async function quietly(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

function toRoute(phyId: string, raw: string): DeviceRoute {
  const stored = JSON.parse(raw) as StoredRoute;
  return { phyId, replicaId: stored.replicaId, epoch: Number(stored.epoch), address: stored.address, connectedAt: Number(stored.connectedAt) };
}
