import type { EventType } from '@outbound/core';
import type { DeliveryAttempt } from '../schemas/events';

/** A webhook as stored: its filter, its signing secret and whether it still receives events. */
export interface WebhookRecord {
  id: string;
  url: string;
  events: EventType[];
  phyIdPrefix: string | null;
  enabled: boolean;
  /** Why it was disabled (a 410 from the receiver); null while enabled. */
  disabledReason: string | null;
  /** Epoch ms. */
  createdAt: number;
  /** `whsec_<base64>`. */
  secret: string;
}

/** One POST of one event, as `/v1/webhooks/{id}/deliveries` lists it (`at` in epoch ms here). */
export type StoredAttempt = Omit<DeliveryAttempt, 'at'> & { at: number };

/** Attempts kept per webhook for `/deliveries`, the newest first. */
export const ATTEMPTS_KEPT = 100;

/**
 * Webhooks and their delivery state, in the deployment's store. Each webhook has a cursor into
 * the event log (the next event to deliver is the first after it) and a lease: the dispatcher
 * holding the lease is the only one delivering that webhook's events; when it stops renewing
 * (a crash), another takes the lease once it expires and goes on from the saved cursor.
 */
export interface WebhookStore {
  /** Stores a new webhook whose deliveries start after `cursor`. */
  create(webhook: WebhookRecord, cursor: string): Promise<void>;
  get(id: string): Promise<WebhookRecord | null>;
  /** Every webhook, oldest first. */
  list(): Promise<WebhookRecord[]>;
  /** false when there was none. Its cursor, lease and attempts go with it. */
  delete(id: string): Promise<boolean>;
  disable(id: string, reason: string): Promise<void>;
  /** Takes the lease for `ms` when free, or extends it when `owner` holds it; false when another holds it. */
  lease(id: string, owner: string, ms: number): Promise<boolean>;
  /** Gives the lease up when `owner` holds it. */
  releaseLease(id: string, owner: string): Promise<void>;
  /** Where delivery goes on; null when the webhook is gone. */
  cursor(id: string): Promise<string | null>;
  /** Moves the cursor, only while `owner` holds the lease (false: it does not, and nothing changed). */
  saveCursor(id: string, owner: string, cursor: string): Promise<boolean>;
  /** Adds attempts (oldest first) to the webhook's recent attempts, keeping the last ATTEMPTS_KEPT. */
  recordAttempts(id: string, attempts: StoredAttempt[]): Promise<void>;
  /** The recent attempts, newest first. */
  attempts(id: string): Promise<StoredAttempt[]>;
}
