import type { RedisClient } from '../redis/connection';
import type { CredentialStore, DeviceCredential } from './credential-store';
import { assertDeviceKey } from './credential-key';
import { RegistryKeys } from './redis-registry-keys';

export interface RedisCredentialStoreOptions {
  /** Commands go through this client; the store makes one duplicate for pub/sub when subscribed. */
  client: RedisClient;
  /** Key prefix, shared with the route registry. Default `outbound`. */
  prefix?: string;
  /** Hash-tagged shards, the route registry's count. Default 16. */
  shards?: number;
  /** Close `client` in close(). Default false (the caller owns it). */
  ownsClient?: boolean;
}

/**
 * CredentialStore on Redis: a device's key and revocation flag sit in its registry shard (one
 * slot, so Cluster-safe), and a revocation is announced on pub/sub once it is stored. Every
 * write is idempotent, so ioredis re-sending one after a reconnect changes nothing.
 */
export class RedisCredentialStore implements CredentialStore {
  readonly keys: RegistryKeys;
  private readonly client: RedisClient;
  private readonly ownsClient: boolean;
  private subscriber: Promise<RedisClient> | undefined;
  private readonly listeners = new Set<(phyId: string) => void>();

  constructor(options: RedisCredentialStoreOptions) {
    this.client = options.client;
    this.ownsClient = options.ownsClient ?? false;
    this.keys = new RegistryKeys(options.prefix ?? 'outbound', options.shards ?? 16);
  }

  async get(phyId: string): Promise<DeviceCredential> {
    const shard = this.keys.shardOf(phyId);
    const [key, revoked] = await Promise.all([
      this.client.hgetBuffer(this.keys.deviceKeys(shard), phyId),
      this.client.sismember(this.keys.revokedDevices(shard), phyId),
    ]);
    return { key: key ?? null, revoked: revoked === 1 };
  }

  async setKey(phyId: string, key: Buffer): Promise<void> {
    assertDeviceKey(key);
    await this.client.hset(this.keys.deviceKeys(this.keys.shardOf(phyId)), phyId, key);
  }

  async deleteKey(phyId: string): Promise<boolean> {
    return (await this.client.hdel(this.keys.deviceKeys(this.keys.shardOf(phyId)), phyId)) === 1;
  }

  async revoke(phyId: string): Promise<void> {
    // Stored first, then announced: a replica that hears of it and re-reads sees it revoked.
    await this.client.sadd(this.keys.revokedDevices(this.keys.shardOf(phyId)), phyId);
    await this.client.publish(this.keys.revokedChannel(), phyId);
  }

  async unrevoke(phyId: string): Promise<boolean> {
    return (await this.client.srem(this.keys.revokedDevices(this.keys.shardOf(phyId)), phyId)) === 1;
  }

  async onRevoked(listener: (phyId: string) => void): Promise<{ stop(): Promise<void> }> {
    this.subscriber ??= (async () => {
      // A subscribed connection cannot run other commands: pub/sub gets its own.
      const sub = this.client.duplicate();
      sub.on('error', () => undefined); // ioredis reconnects and re-subscribes on its own
      sub.on('message', (channel: string, message: string) => {
        if (channel === this.keys.revokedChannel()) for (const l of this.listeners) l(message);
      });
      await sub.subscribe(this.keys.revokedChannel());
      return sub;
    })();
    await this.subscriber;
    this.listeners.add(listener);
    return { stop: async () => void this.listeners.delete(listener) };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await quietly(await sub.catch(() => null));
    if (this.ownsClient) await quietly(this.client);
  }
}

async function quietly(client: RedisClient | null): Promise<void> {
  if (!client) return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
