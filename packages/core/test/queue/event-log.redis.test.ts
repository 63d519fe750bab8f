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
] as const)('Redis event log (%s layout)', (layout, fixture) => {
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
      // v3 logs delivered and acked as one acked entry carrying the replica
      const delivery =
        layout === 'v2'
          ? [
              ['2', id.replace(/-/g, ''), 'ev-layout', '1', 'ingress-a', ''],
              ['4', id.replace(/-/g, ''), 'ev-layout', '1', '', ''],
            ]
          : [['4', id.replace(/-/g, ''), 'ev-layout', '1', 'ingress-a', '']];
      expect(entries.map(([, flat]) => flat.filter((_, i) => i % 2 === 0).map(String))).toEqual(Array(2 + delivery.length).fill(['t', 'c', 'p', 'n', 'v', 'w']));
      const values = entries.map(([, flat]) => flat.filter((_, i) => i % 2 === 1));
      expect(values.map((v) => v.map((b, i) => (i === 1 ? b.toString('hex') : String(b))))).toEqual([
        ['1', id.replace(/-/g, ''), 'ev-layout', '', '3', ''],
        ...delivery,
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

  it('answers a delivered and acked command as two events with their own ids, and resumes between them', async () => {
    const queue = await open({ shards: 1 });
    const start = await queue.eventsHead();
    const { id } = await queue.enqueue(cmd('ev-pair'));
    const [claimed] = await queue.claim({ max: 1, leaseMs: LONG_LEASE });
    await queue.ack([{ id, leaseToken: claimed!.leaseToken, outcome: 'ok', replica: 'ingress-b' }]);
    const all = (await queue.readEvents({ after: start })).events;
    expect(all.map((e) => [e.type, e.attempt, e.details])).toEqual([
      ['command.queued', undefined, { priority: 5 }],
      ['command.delivered', 1, { replica: 'ingress-b' }],
      ['command.acked', 1, {}],
    ]);
    expect(new Set(all.map((e) => e.id)).size).toBe(3);
    expect(new Set(all.map((e) => e.cursor)).size).toBe(3);
    // one event a page: each page resumes right after the one before, missing and repeating none
    const paged: string[] = [];
    let after = start;
    for (let page = 0; page < 4; page += 1) {
      const { events, cursor } = await queue.readEvents({ after, limit: 1 });
      paged.push(...events.map((e) => e.id));
      after = cursor;
    }
    expect(paged).toEqual(all.map((e) => e.id));
    // a waiting read from the delivered event's cursor answers the acked one at once
    const rest = await queue.readEvents({ after: all[1]!.cursor, waitMs: 60_000 });
    expect(rest.events.map((e) => e.id)).toEqual([all[2]!.id]);
    expect(rest.cursor).toBe(await queue.eventsHead());
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
