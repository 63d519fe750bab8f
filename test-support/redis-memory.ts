import type Redis from 'ioredis';

/** used_memory and maxmemory as Redis reports them. */
export async function redisMemoryOf(client: Redis): Promise<{ used: number; max: number }> {
  const info = await client.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)![1]);
  return { used: field('used_memory'), max: field('maxmemory') };
}

/**
 * Grows a filler string in 64 KB steps until used_memory stays at `ratio` of maxmemory (above
 * 1: past it, Redis is out of memory). Small steps: a big argument's query buffer counts in
 * used_memory until Redis shrinks it, which would make the fill look larger than it is.
 */
export async function fillRedisMemory(client: Redis, ratio: number, key = 'test-filler'): Promise<void> {
  const step = Buffer.alloc(64 * 1024, 120);
  for (let i = 0; i < 1_000; i += 1) {
    const { used, max } = await redisMemoryOf(client);
    if (used >= ratio * max) return;
    // Refused once Redis is over maxmemory: then it is as full as it gets.
    const refused = await client.append(key, step).then(() => false, (error: Error) => /^OOM/.test(error.message));
    if (refused) return;
  }
  throw new Error(`could not fill redis to ${ratio} of maxmemory`);
}
