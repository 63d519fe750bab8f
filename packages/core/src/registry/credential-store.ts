/**
 * Per-device credentials for the challenge-response handshake: a provisioned 32-byte key
 * (otherwise the ingress derives one from the fleet secret) and a revocation flag. Both
 * backends (Redis, PostgreSQL) implement it and one conformance suite proves them.
 * Key material is never logged and never answered by the API.
 */
export interface DeviceCredential {
  /** The provisioned key, or null: derive HMAC-SHA256(fleet secret, phyId). */
  key: Buffer | null;
  revoked: boolean;
}

export interface CredentialStore {
  get(phyId: string): Promise<DeviceCredential>;
  /** Provisions (or replaces) the device's key. `key` is 32 bytes. */
  setKey(phyId: string, key: Buffer): Promise<void>;
  /** Reverts to the derived key; answers whether a key was provisioned. */
  deleteKey(phyId: string): Promise<boolean>;
  /** Revokes the device and tells every subscriber (every ingress replica) at once. */
  revoke(phyId: string): Promise<void>;
  /** Lifts a revocation; answers whether one was in place. */
  unrevoke(phyId: string): Promise<boolean>;
  /** Calls `listener` with each phyId revoked from now on (any process); resolves once subscribed. */
  onRevoked(listener: (phyId: string) => void): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}
