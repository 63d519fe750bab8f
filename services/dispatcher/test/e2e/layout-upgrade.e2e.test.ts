import request from 'supertest';
import { RedisQueue, RedisQueueV3, type RedisClient } from '@outbound/core';
import type { SimulatedDevice } from '@outbound/cli';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import Redis from 'ioredis';
import type { RunningDispatcher } from '../../src';
import { ADMIN_KEY, SEND_KEY, as, startTestDispatcher } from '../support/harness';
import { b64, startStack, type Stack } from './support/stack';

const OFFLINE = 5;
const PER_DEVICE = 8;

/** A dispatcher on the stack's prefix with no layout setting of its own (the stack's dispatchers carry `redis-v2`'s); stopped with the stack. */
async function startDefaultDispatcher(stack: Stack): Promise<RunningDispatcher> {
  const d = await startTestDispatcher(testRedisUrl(), {}, 'e2e-upgrade-default', stack.prefix);
  stack.dispatchers.push(d);
  return d;
}

/** The pending count the upgrade gauge shows on a dispatcher's /metrics. */
async function upgradeGauge(d: RunningDispatcher): Promise<number | null> {
  const text = (await request(d.app).get('/metrics').expect(200)).text;
  const match = /^outbound_queue_upgrade_pending_commands(?:\{[^}]*\})? (\d+)$/m.exec(text);
  return match ? Number(match[1]) : null;
}

/**
 * A running deployment on the v2 layout (as earlier releases wrote it), with commands finished,
 * dead, scheduled and parked for offline devices, switches its dispatcher to v3 (ingress,
 * devices and the simulator stay as they are): by name (QUEUE_REDIS_LAYOUT=v3,
 * QUEUE_REDIS_UPGRADE_FROM=v2), or by upgrading with no setting at all (v3 by default, v2
 * drained because it holds commands). Every command reaches its end, each device's order holds
 * across the switch, old idempotency keys still answer their command, and the gauge reaches 0.
 */
describe.each([
  ['QUEUE_REDIS_LAYOUT=v3 and QUEUE_REDIS_UPGRADE_FROM=v2', false],
  ['no layout setting (the default)', true],
] as const)('end to end: switching a running deployment from the v2 layout to v3 with %s', (_, byDefault) => {
  let stack: Stack;
  let probe: Redis;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-upgrade', backend: 'redis-v2' });
    probe = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await stack.stop();
    await probe.quit();
  });

  it('delivers what v2 held and what arrives after the switch, each device in order, nothing lost or twice', async () => {
    const v2 = stack.api;
    const send = (d: RunningDispatcher, body: Record<string, unknown>) => request(d.app).post('/v1/commands').set(as(SEND_KEY)).send(body);
    const read = async (d: RunningDispatcher, id: string) => (await request(d.app).get(`/v1/commands/${id}`).set(as(ADMIN_KEY)).expect(200)).body;

    // Finished, keyed.
    const online = await stack.device('UP-ONLINE');
    const finished = (await send(v2, { phyId: 'UP-ONLINE', payload: b64('fin'), idempotencyKey: 'k-fin' }).expect(202)).body.id as string;
    await stack.waitStatus(finished, 'acked');
    // Dead.
    const busy = await stack.device('UP-BUSY', { busyRate: 1 });
    const dead = (await send(v2, { phyId: 'UP-BUSY', payload: b64('dead'), maxAttempts: 1 }).expect(202)).body.id as string;
    await stack.waitStatus(dead, 'dead');
    // Parked: devices that are not connected, some commands keyed.
    const before = new Map<string, string[]>();
    for (let d = 0; d < OFFLINE; d += 1) {
      const ids: string[] = [];
      for (let i = 0; i < PER_DEVICE; i += 1) {
        const body = { phyId: `UP-OFF-${d}`, payload: b64(`v2-${d}-${i}`), ...(i % 2 === 0 ? { idempotencyKey: `k-${d}-${i}` } : {}) };
        ids.push((await send(v2, body).expect(202)).body.id);
      }
      before.set(`UP-OFF-${d}`, ids);
    }
    await waitFor(async () => (await v2.queue.stats()).total.waitingForDevice === OFFLINE * PER_DEVICE || null, { what: 'the offline devices\' commands to be parked' });
    // Scheduled: due well after the switch, even on a loaded machine.
    const scheduled = (await send(v2, { phyId: 'UP-ONLINE', payload: b64('later'), deliverAt: new Date(Date.now() + 10_000).toISOString() }).expect(202)).body.id as string;

    // The switch: the v2 dispatcher stops, one on v3 draining v2 starts.
    await v2.stop();
    const v3 = byDefault ? await startDefaultDispatcher(stack) : await stack.startDispatcher({ queue: { redisLayout: 'v3', redisUpgradeFrom: 'v2' } });
    expect((await read(v3, scheduled)).status).toBe('queued');
    expect(await upgradeGauge(v3)).toBe(OFFLINE * PER_DEVICE + 2); // parked, scheduled, dead

    // Old keys answer their command, finished or parked; a new payload under an old key is refused.
    expect((await send(v3, { phyId: 'UP-ONLINE', payload: b64('fin'), idempotencyKey: 'k-fin' }).expect(202)).body).toEqual({ id: finished, status: 'acked', duplicate: true });
    expect((await send(v3, { phyId: 'UP-OFF-0', payload: b64('v2-0-0'), idempotencyKey: 'k-0-0' }).expect(202)).body).toMatchObject({ id: before.get('UP-OFF-0')![0], duplicate: true });
    expect((await send(v3, { phyId: 'UP-ONLINE', payload: b64('other'), idempotencyKey: 'k-fin' }).expect(409)).body).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });

    // New commands: behind the parked ones for those devices, in v3 for a device v2 never held.
    const after = new Map<string, string[]>();
    for (let d = 0; d < OFFLINE; d += 1) {
      after.set(`UP-OFF-${d}`, [(await send(v3, { phyId: `UP-OFF-${d}`, payload: b64(`v3-${d}`) }).expect(202)).body.id]);
    }
    const fresh = (await send(v3, { phyId: 'UP-NEW', payload: b64('fresh') }).expect(202)).body.id as string;
    const v3Store = new RedisQueueV3(probe as unknown as RedisClient, { prefix: stack.prefix });
    const v2Store = new RedisQueue(probe as unknown as RedisClient, { prefix: stack.prefix });
    try {
      // In v3 (a dispatcher may already hold it: the device has never been seen offline, so it is claimed, then parked).
      expect(['queued', 'inflight']).toContain((await v3Store.get(fresh))?.status);
      expect(await v2Store.get(fresh)).toBeNull();
      expect(await v2Store.get(after.get('UP-OFF-0')![0]!)).toMatchObject({ status: 'queued' });
    } finally {
      await v3Store.close();
      await v2Store.close();
    }

    // The devices come online; the dead letter is replayed once the device accepts.
    const devices: SimulatedDevice[] = [];
    for (let d = 0; d < OFFLINE; d += 1) devices.push(await stack.device(`UP-OFF-${d}`));
    const fresher = await stack.device('UP-NEW');
    busy.setBehaviour({ busyRate: 0 });
    expect((await request(v3.app).post('/v1/dead-letters/replay').set(as(ADMIN_KEY)).send({ ids: [dead] }).expect(200)).body.replayed).toBe(1);

    const every = [...[...before.values()].flat(), ...[...after.values()].flat(), scheduled, fresh, dead];
    await waitFor(async () => {
      for (const id of every) if ((await read(v3, id)).status !== 'acked') return false;
      return true;
    }, { timeoutMs: 45_000, intervalMs: 50, what: 'every command to be acked' });

    devices.forEach((device, d) => {
      // Each device's commands in enqueue order across the switch, each applied once.
      expect(device.appliedIds).toEqual([...before.get(`UP-OFF-${d}`)!, ...after.get(`UP-OFF-${d}`)!]);
    });
    expect(online.appliedIds).toEqual([finished, scheduled]);
    expect(fresher.appliedIds).toEqual([fresh]);
    expect(busy.appliedIds).toEqual([dead]);
    expect(await waitFor(async () => (await upgradeGauge(v3)) === 0 || null, { what: 'the gauge to show the v2 layout drained' })).toBe(true);
  }, 90_000);
});
