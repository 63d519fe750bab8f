import { ReplyError } from 'ioredis';
import { isOutboundError } from '../../errors';
import type { RedisClient } from '../../redis/connection';
import { StoreError } from '../store-errors';
import { classifyRedisError } from './redis-errors';
import { RedisLiveness, type RedisLivenessOptions } from './redis-liveness';
import { RedisMemory, type RedisMemorySample } from './redis-memory';

export interface RedisGateOptions {
  /** Refuse requests up front while Redis is not answering a PING (redis-liveness.ts); false: off. */
  liveness?: RedisLivenessOptions | false;
  /** Enqueue stops at this share of maxmemory (0: off). Default 0.9. */
  admissionMaxMemoryRatio?: number;
}

/**
 * What stands between a Redis queue store (either layout) and Redis: requests refused unsent
 * while Redis is known not to be answering, failures classified once (redis-errors.ts), and
 * enqueue admission at the memory high-water mark.
 */
export class RedisGate {
  private readonly liveness: RedisLiveness | null;
  private readonly memorySampler: RedisMemory;
  /** The enqueue high-water mark as a share of maxmemory (0: admission off). */
  readonly admissionMaxMemoryRatio: number;

  constructor(client: RedisClient, options: RedisGateOptions = {}) {
    this.liveness = options.liveness === false ? null : new RedisLiveness(client, options.liveness);
    this.memorySampler = new RedisMemory(client);
    this.admissionMaxMemoryRatio = options.admissionMaxMemoryRatio ?? 0.9;
  }

  /**
   * Sends one request unless Redis is known not to be answering (then it is refused unsent,
   * STORE_UNAVAILABLE), and classifies what failed.
   */
  async call<T>(operation: string, issue: () => Promise<T>): Promise<T> {
    const why = this.liveness?.notAnswering();
    if (why) throw new StoreError('redis', 'unreachable', 'STORE_UNAVAILABLE', `redis ${operation} not sent: ${why}`);
    try {
      const answer = await issue();
      this.liveness?.answered();
      return answer;
    } catch (error) {
      if (error instanceof ReplyError) this.liveness?.answered();
      if (isOutboundError(error)) throw error;
      throw classifyRedisError(error, operation);
    }
  }

  /**
   * Enqueue admission: refuses a whole enqueue unsent while Redis is not answering, or while
   * its memory is at the high-water mark (STORE_FULL), so what room is left goes to draining.
   */
  async admit(): Promise<void> {
    const why = this.liveness?.notAnswering();
    if (why) throw new StoreError('redis', 'unreachable', 'STORE_UNAVAILABLE', `redis enqueue not sent: ${why}`);
    const ratio = this.admissionMaxMemoryRatio;
    if (ratio <= 0) return;
    const memory = await this.memorySampler.current();
    if (memory && memory.maxBytes > 0 && memory.ratio >= ratio) {
      const { usedBytes, maxBytes } = memory;
      throw new StoreError(
        'redis',
        'full',
        'STORE_FULL',
        `redis memory is at ${(memory.ratio * 100).toFixed(1)}% of maxmemory (admission stops at ${(ratio * 100).toFixed(0)}%); nothing was stored`,
        { details: { usedMemoryBytes: usedBytes, maxMemoryBytes: maxBytes } },
      );
    }
  }

  /** Redis memory (INFO memory, sampled at most once a second) for health and metrics. */
  memory(): Promise<RedisMemorySample | null> {
    return this.memorySampler.current();
  }

  stop(): void {
    this.liveness?.stop();
  }
}
