import { randomBytes } from 'node:crypto';
import type { CredentialStore } from '@outbound/core';
import { waitFor } from '@outbound/test-support';

/**
 * Makes a fresh, empty credential store for one test. sibling() answers another instance on
 * the same data (another replica or the dispatcher); cleanup() closes them all and drops the data.
 */
export type MakeCredentialStore = () => Promise<{ store: CredentialStore; sibling(): Promise<CredentialStore>; cleanup(): Promise<void> }>;

/** The behaviour every CredentialStore backend must show, written against the interface only. */
export function credentialStoreConformance(name: string, make: MakeCredentialStore): void {
  describe(`CredentialStore conformance: ${name}`, () => {
    let store: CredentialStore;
    let sibling: () => Promise<CredentialStore>;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, sibling, cleanup } = await make());
    });
    afterEach(() => cleanup());

    it('answers no key and not revoked for a device it never heard of', async () => {
      expect(await store.get('DEV-NEW')).toEqual({ key: null, revoked: false });
    });

    it('provisions, replaces and removes a key, per device', async () => {
      const first = randomBytes(32);
      const second = randomBytes(32);
      await store.setKey('DEV-1', first);
      await store.setKey('DEV-2', second);
      expect((await store.get('DEV-1')).key).toEqual(first);
      await store.setKey('DEV-1', second);
      expect(await store.get('DEV-1')).toEqual({ key: second, revoked: false });
      // Another instance reads what this one wrote.
      expect((await (await sibling()).get('DEV-1')).key).toEqual(second);
      expect(await store.deleteKey('DEV-1')).toBe(true);
      expect(await store.deleteKey('DEV-1')).toBe(false);
      expect(await store.deleteKey('DEV-NEVER')).toBe(false);
      expect(await store.get('DEV-1')).toEqual({ key: null, revoked: false });
      expect((await store.get('DEV-2')).key).toEqual(second);
    });

    it('refuses a key that is not 32 bytes and stores nothing', async () => {
      await expect(store.setKey('DEV-3', randomBytes(31))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      await expect(store.setKey('DEV-3', randomBytes(33))).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(await store.get('DEV-3')).toEqual({ key: null, revoked: false });
    });

    it('revokes and lifts a revocation without touching the key', async () => {
      const key = randomBytes(32);
      await store.setKey('DEV-4', key);
      await store.revoke('DEV-4');
      await store.revoke('DEV-4'); // twice is the same as once
      expect(await store.get('DEV-4')).toEqual({ key, revoked: true });
      expect(await store.get('DEV-5')).toEqual({ key: null, revoked: false });
      expect(await store.unrevoke('DEV-4')).toBe(true);
      expect(await store.unrevoke('DEV-4')).toBe(false);
      expect(await store.unrevoke('DEV-NEVER')).toBe(false);
      expect(await store.get('DEV-4')).toEqual({ key, revoked: false });
      // A revoked device without a key reads revoked, and removing a key keeps a revocation.
      await store.revoke('DEV-6');
      expect(await store.get('DEV-6')).toEqual({ key: null, revoked: true });
      await store.setKey('DEV-6', key);
      expect(await store.deleteKey('DEV-6')).toBe(true);
      expect(await store.get('DEV-6')).toEqual({ key: null, revoked: true });
    });

    it('tells every subscribed instance of a revocation, after it is stored', async () => {
      const replicaA = await sibling();
      const replicaB = await sibling();
      const heard: Array<[string, string, boolean]> = [];
      const record = (who: string, reader: CredentialStore) => (phyId: string) => {
        // What a replica reads when it hears must already be the revocation.
        void reader.get(phyId).then((c) => heard.push([who, phyId, c.revoked]));
      };
      const subA = await replicaA.onRevoked(record('a', replicaA));
      await replicaB.onRevoked(record('b', replicaB));
      await store.revoke('DEV:7');
      await waitFor(() => heard.length === 2, { what: 'both replicas to hear the revocation' });
      expect(heard.sort()).toEqual([['a', 'DEV:7', true], ['b', 'DEV:7', true]]);
      await subA.stop();
      await store.revoke('DEV:8');
      await waitFor(() => heard.length === 3, { what: 'replica b to hear the second revocation' });
      expect(heard[2]).toEqual(['b', 'DEV:8', true]);
      // Lifting a revocation is not announced as one.
      await store.unrevoke('DEV:8');
      await store.revoke('DEV:9');
      await waitFor(() => heard.length === 4, { what: 'the third revocation' });
      expect(heard.map(([, phyId]) => phyId)).toEqual(['DEV:7', 'DEV:7', 'DEV:8', 'DEV:9']);
    });
  });
}
