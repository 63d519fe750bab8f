import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Pool } from 'pg';
import type { RedisClient } from '@outbound/core/registry';
import type { RateLimitScope } from './device-auth';

/** Where the counters live: the registry's store, so every replica shares them. */
export type LimiterStore = { kind: 'redis'; client: RedisClient; prefix: string } | { kind: 'postgres'; pool: Pool; schema: string };

/** Points allowed per window; `points` 0 turns the limit off. */
export interface WindowLimit {
  points: number;
  windowSeconds: number;
}

export interface HandshakeLimitOptions {
  perIp: WindowLimit;
  perPhyId: WindowLimit;
  /** More than `points` supersedes of one phyId within the window locks it out for `lockoutSeconds`. */
  supersedeStorm: WindowLimit & { lockoutSeconds: number };
}

/**
 * Handshake rate limits shared across replicas (rate-limiter-flexible on Redis or PostgreSQL):
 * per source address and per phyId, counted on every HELLO2 before a credential is read, and
 * the supersede-storm lockout (a phyId displaced again and again, as by two devices sharing an
 * id or a stolen key fighting the real device). When the store does not answer, an in-memory
 * limiter of the same shape stands in (per replica), so an outage neither admits floods nor
 * refuses every device.
 */
export class HandshakeLimits {
  private readonly perIp: RateLimiterAbstract | null;
  private readonly perPhyId: RateLimiterAbstract | null;
  private readonly storm: RateLimiterAbstract | null;
  private readonly stormPoints: number;

  constructor(store: LimiterStore, private readonly options: HandshakeLimitOptions) {
    this.perIp = makeLimiter(store, 'handshake-ip', options.perIp);
    this.perPhyId = makeLimiter(store, 'handshake-phy', options.perPhyId);
    this.storm = makeLimiter(store, 'supersede', options.supersedeStorm, options.supersedeStorm.lockoutSeconds);
    this.stormPoints = options.supersedeStorm.points;
  }

  /** Counts one handshake; answers the limit it broke, or null to go on. */
  async admit(phyId: string, remoteAddress: string): Promise<{ scope: RateLimitScope; reason: string } | null> {
    const [ip, phy, storm] = await Promise.all([
      consume(this.perIp, remoteAddress),
      consume(this.perPhyId, phyId),
      this.storm ? this.storm.get(phyId) : null,
    ]);
    if (ip) return { scope: 'ip', reason: `too many handshakes from this address; retry in ${seconds(ip)} s` };
    if (storm && storm.consumedPoints > this.stormPoints && storm.msBeforeNext > 0) {
      // The lockout shortens the counter's expiry to lockoutSeconds, but the PostgreSQL store
      // writes it in a second statement after the consume that broke the limit: read in
      // between, the expiry is still the window's. The lockout is what the device will wait.
      const retryIn = Math.min(seconds(storm), this.options.supersedeStorm.lockoutSeconds);
      return { scope: 'supersede_storm', reason: `this device keeps replacing its own connection; locked out, retry in ${retryIn} s` };
    }
    if (phy) return { scope: 'phy_id', reason: `too many handshakes for this device; retry in ${seconds(phy)} s` };
    return null;
  }

  /** A new connection of `phyId` displaced an older one (here or on another replica). */
  async recordSupersede(phyId: string): Promise<void> {
    await consume(this.storm, phyId);
  }
}

function makeLimiter(store: LimiterStore, name: string, limit: WindowLimit, blockSeconds = 0): RateLimiterAbstract | null {
  if (limit.points <= 0) return null;
  const base = { points: limit.points, duration: limit.windowSeconds, blockDuration: blockSeconds };
  const insuranceLimiter = new RateLimiterMemory({ ...base, keyPrefix: name });
  if (store.kind === 'redis') {
    return new RateLimiterRedis({ ...base, storeClient: store.client, keyPrefix: `${store.prefix}:ratelimit:${name}`, insuranceLimiter, rejectIfRedisNotReady: true });
  }
  return new RateLimiterPostgres({
    ...base,
    storeClient: store.pool,
    storeType: 'pool',
    schemaName: store.schema,
    tableName: 'rate_limits',
    tableCreated: true, // migration 0005
    keyPrefix: name,
    insuranceLimiter,
  });
}

/** The refusal, or null when the point fit; a store error reaches here only if the insurance limiter also failed. */
async function consume(limiter: RateLimiterAbstract | null, key: string): Promise<RateLimiterRes | null> {
  if (!limiter) return null;
  try {
    await limiter.consume(key);
    return null;
  } catch (refusal) {
    if (refusal instanceof RateLimiterRes) return refusal;
    throw refusal;
  }
}

function seconds(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
