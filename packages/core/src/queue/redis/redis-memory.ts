import { Cluster } from 'ioredis';
import type { RedisClient } from '../../redis/connection';

/** Redis memory as `INFO memory` answered it (the fullest master on a Cluster). */
export interface RedisMemorySample {
  usedBytes: number;
  /** 0: no `maxmemory` set (the server may grow until the machine runs out). */
  maxBytes: number;
  /** used / max, 0 without a maxmemory. */
  ratio: number;
  at: number;
}

/**
 * Samples `INFO memory` at most once per `everyMs` (concurrent askers share one read), so
 * enqueue admission can stop at a high-water mark before Redis itself refuses writes (OOM):
 * between the mark and maxmemory, acks, claims and route writes keep working and the queue
 * drains. A failed read keeps the last sample; the commands themselves then fail and are
 * classified as usual.
 */
export class RedisMemory {
  private sample: RedisMemorySample | null = null;
  private reading: Promise<RedisMemorySample | null> | null = null;

  constructor(private readonly client: RedisClient, private readonly everyMs = 1_000) {}

  /**
   * The last sample; one older than `everyMs` starts a read in the background, so an enqueue
   * does not wait on INFO (only one with no sample of the last 5 periods does).
   */
  async current(): Promise<RedisMemorySample | null> {
    if (this.sample && Date.now() - this.sample.at < this.everyMs) return this.sample;
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.sample && Date.now() - this.sample.at < 5 * this.everyMs ? this.sample : this.reading;
  }

  /** The last sample without reading (for metrics scraped often). */
  last(): RedisMemorySample | null {
    return this.sample;
  }

  private async read(): Promise<RedisMemorySample | null> {
    try {
      const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      const samples = (await Promise.all(nodes.map(async (node) => parseInfo(await node.info('memory'))))).filter((s) => s !== null);
      if (samples.length === 0) return this.sample;
      this.sample = samples.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    } catch {
      // Keep the last sample: a store that does not answer INFO does not answer the enqueue either.
    }
    return this.sample;
  }
}

function parseInfo(text: string): RedisMemorySample | null {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  const usedBytes = field('used_memory');
  const maxBytes = field('maxmemory');
  if (!Number.isFinite(usedBytes) || !Number.isFinite(maxBytes)) return null;
  return { usedBytes, maxBytes, ratio: maxBytes > 0 ? usedBytes / maxBytes : 0, at: Date.now() };
}
