import type { RedisClient } from '@outbound/core';
import { EVENT_TYPES, type EventType } from '@outbound/core';
import { ATTEMPTS_KEPT, type StoredAttempt, type WebhookRecord, type WebhookStore } from './store';

/** Extends the lease when `owner` holds it, takes it when free. */
const LEASE = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Only for a webhook that still exists (a delete while a POST was out must not leave a stray list). */
const RECORD_ATTEMPTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1)
return 1`;

const SAVE_CURSOR = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'cursor', ARGV[2])
return 1`;

/**
 * Webhooks in Redis, under the queue prefix: `<prefix>:webhooks` (set of ids) and per webhook
 * `<prefix>:webhook:{<id>}` (hash: definition and cursor), `…:lease` (string, PX) and
 * `…:attempts` (list, newest first, capped). The id is the hash tag, so one webhook's keys share
 * a cluster slot and the lease-checked cursor write is one script.
 */
export class RedisWebhookStore implements WebhookStore {
  constructor(private readonly client: RedisClient, private readonly prefix: string) {}

  private keys(id: string) {
    const base = `${this.prefix}:webhook:{${id}}`;
    return { hook: base, lease: `${base}:lease`, attempts: `${base}:attempts` };
  }

  private get index(): string {
    return `${this.prefix}:webhooks`;
  }

  async create(webhook: WebhookRecord, cursor: string): Promise<void> {
    await this.client.hset(this.keys(webhook.id).hook, {
      url: webhook.url,
      events: webhook.events.join(','),
      phyIdPrefix: webhook.phyIdPrefix ?? '',
      enabled: webhook.enabled ? '1' : '0',
      disabledReason: webhook.disabledReason ?? '',
      createdAt: String(webhook.createdAt),
      secret: webhook.secret,
      cursor,
    });
    // Listed only once whole: a crash between the two writes leaves an unlisted hash, never a listed half.
    await this.client.sadd(this.index, webhook.id);
  }

  async get(id: string): Promise<WebhookRecord | null> {
    return toRecord(id, await this.client.hgetall(this.keys(id).hook));
  }

  async list(): Promise<WebhookRecord[]> {
    const ids = await this.client.smembers(this.index);
    const pipeline = this.client.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys(id).hook);
    const answers = ids.length === 0 ? [] : ((await pipeline.exec()) ?? []);
    const records = answers.map(([error, hash], i) => {
      if (error) throw error;
      return toRecord(ids[i]!, hash as Record<string, string>);
    });
    return records.filter((r): r is WebhookRecord => r !== null).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async delete(id: string): Promise<boolean> {
    const keys = this.keys(id);
    const removed = await this.client.srem(this.index, id);
    const deleted = await this.client.del(keys.hook, keys.lease, keys.attempts);
    return removed > 0 || deleted > 0;
  }

  async disable(id: string, reason: string): Promise<void> {
    // HSET on a deleted webhook would bring half of it back: only while it exists.
    await this.client.eval(
      `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'enabled', '0', 'disabledReason', ARGV[1]) end return 0`,
      1, this.keys(id).hook, reason,
    );
  }

  async lease(id: string, owner: string, ms: number): Promise<boolean> {
    const keys = this.keys(id);
    return (await this.client.eval(LEASE, 2, keys.lease, keys.hook, owner, String(ms))) === 1;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.keys(id).lease, owner);
  }

  async cursor(id: string): Promise<string | null> {
    return this.client.hget(this.keys(id).hook, 'cursor');
  }

  async saveCursor(id: string, owner: string, cursor: string): Promise<boolean> {
    const keys = this.keys(id);
    return (await this.client.eval(SAVE_CURSOR, 2, keys.lease, keys.hook, owner, cursor)) === 1;
  }

  async recordAttempts(id: string, attempts: StoredAttempt[]): Promise<void> {
    if (attempts.length === 0) return;
    const keys = this.keys(id);
    await this.client.eval(RECORD_ATTEMPTS, 2, keys.hook, keys.attempts, String(ATTEMPTS_KEPT), ...attempts.map((a) => JSON.stringify(a)));
  }

  async attempts(id: string): Promise<StoredAttempt[]> {
    const items = await this.client.lrange(this.keys(id).attempts, 0, ATTEMPTS_KEPT - 1);
    return items.map((text) => JSON.parse(text) as StoredAttempt);
  }
}

function toRecord(id: string, hash: Record<string, string>): WebhookRecord | null {
  if (!hash.url) return null;
  const known = new Set<string>(EVENT_TYPES);
  return {
    id,
    url: hash.url,
    events: (hash.events ?? '').split(',').filter((t): t is EventType => known.has(t)),
    phyIdPrefix: hash.phyIdPrefix ? hash.phyIdPrefix : null,
    enabled: hash.enabled === '1',
    disabledReason: hash.disabledReason ? hash.disabledReason : null,
    createdAt: Number(hash.createdAt),
    secret: hash.secret ?? '',
  };
}
