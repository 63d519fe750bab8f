import Redis from 'ioredis';
import { AutoDrainingQueue, RedisQueue, RedisQueueV3, ValidatedQueue, type QueueOptions } from '@outbound/core';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { cmd } from './conformance';
import { dropPrefix } from './conformance/redis-fixture';

const OPTIONS: QueueOptions = { retentionMs: 600_000 };

/**
 * What a v3 dispatcher runs by default: v3 alone while the v2 layout holds nothing, both from
 * the first count that finds a command in v2. An event reader's cursor carries across that
 * switch either way: a cursor given out before it continues, and a cursor of a dispatcher
 * already delivering from both is read by one that is not yet.
 */
describe('AutoDrainingQueue: v3 alone until v2 holds a command', () => {
  let client: Redis;
  let prefix: string;
  const made: Array<{ close(): Promise<void> }> = [];
  beforeEach(() => {
    client = new Redis(testRedisUrl());
    prefix = uniquePrefix('auto-drain');
  });
  afterEach(async () => {
    while (made.length) await made.pop()!.close().catch(() => undefined);
    await dropPrefix(client, prefix);
    await client.quit();
  });

  const open = () => {
    const queue = new AutoDrainingQueue(new RedisQueue(client, { ...OPTIONS, prefix }), new RedisQueueV3(client, { ...OPTIONS, prefix }), { checkEveryMs: 60_000 });
    made.push(queue);
    return queue;
  };
  /** A dispatcher of the earlier release, writing v2. */
  const older = () => {
    const queue = new ValidatedQueue(new RedisQueue(client, { ...OPTIONS, prefix }));
    made.push(queue);
    return queue;
  };
  const ids = async (queue: ValidatedQueue, after: string | null) => (await queue.readEvents({ after, limit: 1_000 })).events.map((e) => `${e.type} ${e.commandId}`);

  it('serves v3 alone while v2 is empty, then both; a cursor from before the switch continues in v3 and in v2 from the switch on', async () => {
    const auto = open();
    const queue = new ValidatedQueue(auto);
    await auto.start();
    expect(auto.upgrading).toBe(false);
    const { id: first } = await queue.enqueue(cmd('AUTO-1'));
    const before = await queue.eventsHead();
    expect(before).not.toContain('~'); // v3's own cursor
    const { id: fresh } = await queue.enqueue(cmd('AUTO-2'));
    const { id: held } = await older().enqueue(cmd('AUTO-OLD'));
    expect(await queue.get(held)).toBeNull(); // not read yet: v3 alone

    expect(await auto.oldPending()).toBe(1);
    expect(auto.upgrading).toBe(true);
    expect(await queue.get(held)).toMatchObject({ status: 'queued' });
    const claimed = await queue.claim({ max: 10, leaseMs: 30_000 });
    expect(claimed.map((c) => c.id).sort()).toEqual([first, fresh, held].sort());
    const acked = await queue.ack(claimed.map((c) => ({ id: c.id, leaseToken: c.leaseToken, outcome: 'ok' as const })));
    expect(acked.every((a) => a.ok)).toBe(true);

    // The cursor from before: v3's events after it, v2's from the switch on (the ack), none refused.
    const events = await ids(queue, before);
    expect(events).toEqual(expect.arrayContaining([`command.queued ${fresh}`, `command.acked ${fresh}`, `command.acked ${held}`, `command.acked ${first}`]));
    expect(events).not.toContain(`command.queued ${first}`);
    expect(events).not.toContain(`command.queued ${held}`); // written before the switch, by the older dispatcher
  });

  it('reads a cursor of a dispatcher delivering from both layouts while it still serves v3 alone', async () => {
    const auto = open();
    const queue = new ValidatedQueue(auto);
    await auto.start();
    const { id: first } = await queue.enqueue(cmd('AUTO-3'));
    const joined = `~${await queue.eventsHead()}`; // what a draining dispatcher answers: v2 part empty
    const { id: second } = await queue.enqueue(cmd('AUTO-4'));
    expect(auto.upgrading).toBe(false);
    const events = await ids(queue, joined);
    expect(events).toContain(`command.queued ${second}`);
    expect(events).not.toContain(`command.queued ${first}`);
  });
});
