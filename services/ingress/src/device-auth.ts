import { deriveDeviceKey, DEVICE_KEY_BYTES } from '@outbound/core/protocol';
import type { CredentialStore } from '@outbound/core/registry';

/** Why a handshake ended in AUTH_FAILED (the metric's `reason` label). */
export type AuthFailure = 'bad_proof' | 'bad_token' | 'revoked' | 'proof_timeout' | 'legacy_disabled' | 'revoked_while_connected';

/** What the server decided about a HELLO2 or HELLO before checking its proof. */
export type AdmitVerdict =
  | {
      kind: 'credentials';
      /** Keys a right PROOF may be made with: the provisioned key, or one derived key per fleet secret. */
      keys: Buffer[];
      revoked: boolean;
      /** DEVICE_AUTH_MODE=none: any PROOF passes (the server proof is then made with an all-zero key). */
      anyProof: boolean;
    }
  | { kind: 'rate_limited'; scope: RateLimitScope; reason: string };

/** Which limit refused a handshake. */
export type RateLimitScope = 'ip' | 'phy_id' | 'supersede_storm';

/** A check that may refuse a handshake before credentials are read (rate limits). */
export type AdmissionCheck = (phyId: string, remoteAddress: string) => Promise<{ scope: RateLimitScope; reason: string } | null>;

const OPEN_KEY = Buffer.alloc(DEVICE_KEY_BYTES);

/**
 * Decides which keys a device may prove and whether it is revoked: a key provisioned in the
 * credential store wins; otherwise the key derived from each configured fleet secret (several
 * during a rotation) is a candidate. Rate limits run first, so a flood costs no store read.
 */
export class DeviceAuthenticator {
  private readonly secrets: readonly string[];

  constructor(
    private readonly options: {
      mode: 'hmac' | 'none';
      secrets: readonly string[];
      credentials: CredentialStore;
      /** Runs before the credential read; a refusal answers RATE_LIMITED. */
      admission?: AdmissionCheck;
    },
  ) {
    this.secrets = [...options.secrets];
  }

  async admit(phyId: string, remoteAddress: string): Promise<AdmitVerdict> {
    const refused = await this.options.admission?.(phyId, remoteAddress);
    if (refused) return { kind: 'rate_limited', ...refused };
    const credential = await this.options.credentials.get(phyId);
    if (this.options.mode === 'none') return { kind: 'credentials', keys: [credential.key ?? OPEN_KEY], revoked: credential.revoked, anyProof: true };
    const keys = credential.key ? [credential.key] : this.secrets.map((secret) => deriveDeviceKey(secret, phyId));
    return { kind: 'credentials', keys, revoked: credential.revoked, anyProof: false };
  }
}
