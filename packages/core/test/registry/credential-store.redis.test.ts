import Redis from 'ioredis';
import { RedisCredentialStore, type CredentialStore } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { credentialStoreConformance } from './conformance/credential-store';

credentialStoreConformance('redis', async () => {
  const prefix = uniquePrefix('creds');
  const stores: CredentialStore[] = [];
  const make = (): RedisCredentialStore => {
    const store = new RedisCredentialStore({ client: new Redis(testRedisUrl()), prefix, shards: 4, ownsClient: true });
    stores.push(store);
    return store;
  };
  return {
    store: make(),
    sibling: async () => make(),
    cleanup: async () => void (await Promise.all(stores.map((s) => s.close()))),
  };
});

describe('RedisCredentialStore keys', () => {
  it('keeps one device key and revocation under its registry shard hash tag', async () => {
    const store = new RedisCredentialStore({ client: new Redis(testRedisUrl()), prefix: uniquePrefix('creds'), shards: 8, ownsClient: true });
    try {
      const shard = store.keys.shardOf('DEV-7');
      const tags = [store.keys.deviceKeys(shard), store.keys.revokedDevices(shard), store.keys.routes(shard)].map((k) => k.slice(k.indexOf('{'), k.indexOf('}') + 1));
      expect(new Set(tags).size).toBe(1);
      expect(tags[0]).toMatch(/^\{reg-\d+\}$/);
    } finally {
      await store.close();
    }
  });
});
