import Redis from 'ioredis';
import { RedisQueue, RedisQueueV3, type CommandQueue, type ValidatedQueue } from '@outbound/core';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { cmd, enqueueAll, useQueues } from './conformance';
import { LONG_LEASE } from './conformance/harness';
import { redisFixture } from './conformance/redis-fixture';

/** What the Redis event log promises beyond the store-agnostic conformance: retention, cursor size, cursor checks. */
describe.each([
  ['v2', redisFixture((client, options) => new RedisQueue(client, options))],
  ['v3', redisFixture((client, options) => new RedisQueueV3(client, options))],
] as const)('Redis event log (%s layout)', (_layout, fixture) => {
  const open = useQueues(fixture);

  it('drops events older than the retention at the expiry sweep, and a cursor from before reads from the oldest retained', async () => {
    const queue = await open({ retentionMs: 1_000, shards: 1 });
    const start = await queue.eventsHead();
    const { id } = await queue.enqueue(cmd('ev-old'));
    await queue.cancel(id);
    expect((await queue.readEvents({ after: null })).events.map((e) => e.type)).toEqual(['command.queued', 'command.cancelled']);
    await waitFor(async () => (await queue.get(id)) === null, { what: 'the finished command to pass its retention' });
    expect(await queue.commandEvents(id)).toBeNull();
    await queue.expireDue();
    expect((await queue.readEvents({ after: null })).events).toEqual([]);
    const { id: fresh } = await queue.enqueue(cmd('ev-new'));
    expect((await queue.readEvents({ after: start })).events.map((e) => e.commandId)).toEqual([fresh]);
  });

  it('writes every entry with the same six fields in the same order, the command id in 16 bytes', async () => {
    const queue = (await open({ shards: 1 })) as ValidatedQueue<RedisQueue | RedisQueueV3>;
    const { id } = await queue.enqueue(cmd('ev-layout', { priority: 3 }));
    const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
    await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok', replica: 'ingress-a' }]);
    await queue.markDeviceOffline('ev-layout');
    const client = new Redis(testRedisUrl());
    try {
      const entries = await client.xrangeBuffer(queue.store.keys.events(0), '-', '+');
      expect(entries.map(([, flat]) => flat.filter((_, i) => i % 2 === 0).map(String))).toEqual(Array(4).fill(['t', 'c', 'p', 'n', 'v', 'w']));
      const values = entries.map(([, flat]) => flat.filter((_, i) => i % 2 === 1));
      expect(values.map((v) => v.map((b, i) => (i === 1 ? b.toString('hex') : String(b))))).toEqual([
        ['1', id.replace(/-/g, ''), 'ev-layout', '', '3', ''],
        ['2', id.replace(/-/g, ''), 'ev-layout', '1', 'ingress-a', ''],
        ['4', id.replace(/-/g, ''), 'ev-layout', '1', '', ''],
        ['10', '', 'ev-layout', '', '', ''],
      ]);
    } finally {
      await client.quit();
    }
    expect((await queue.commandEvents(id))!.map((e) => [e.type, e.commandId, e.attempt, e.details])).toEqual([
      ['command.queued', id, undefined, { priority: 3 }],
      ['command.delivered', id, 1, { replica: 'ingress-a' }],
      ['command.acked', id, 1, {}],
    ]);
  });

  it('keeps a cursor of 64 shards printable and within 1,024 characters', async () => {
    const queue = await open({ shards: 64 });
    await enqueueAll(queue, Array.from({ length: 400 }, (_, i) => cmd(`ev-wide-${i}`)));
    const head = await queue.eventsHead();
    const { events } = await queue.readEvents({ after: null, limit: 1_000 });
    expect(events).toHaveLength(400);
    for (const cursor of [head, events[0]!.cursor, events[399]!.cursor]) expect(cursor).toMatch(/^[\x21-\x7e]{1,1024}$/);
    expect(events[399]!.cursor).toBe(head);
  });

  it('refuses a cursor it did not answer with VALIDATION_FAILED naming the field', async () => {
    const queue: CommandQueue = await open({ shards: 4 });
    const other = await (await open({ shards: 8 })).eventsHead();
    for (const after of ['nonsense', 'a b', other]) {
      await expect(queue.readEvents({ after })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^after/) });
    }
  });
});
