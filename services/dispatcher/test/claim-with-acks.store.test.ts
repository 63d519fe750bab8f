import { testRedisUrl } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { startTestDispatcher } from './support/harness';

/**
 * Whether the delivery worker claims with its acks comes from the queue it runs on: only a store
 * whose ackAndClaim is one call (Redis v3 alone) is offered claims on acks; over v2, or v3 while
 * v2 is drained beside it, the queue has no ackAndClaim and the loop claims on its own.
 */
describe('dispatcher: claims ride on acks only where the store claims in its ack', () => {
  const running: RunningDispatcher[] = [];
  afterEach(async () => {
    while (running.length) await running.pop()!.stop();
  });
  const start = async (queue: Record<string, unknown>): Promise<RunningDispatcher> => {
    const d = await startTestDispatcher(testRedisUrl(), { queue, webhooks: { enabled: false } }, 'claim-with-acks');
    running.push(d);
    return d;
  };

  it.each([
    ['Redis v3 alone', { redisLayout: 'v3', redisUpgradeFrom: 'none' }, true],
    ['Redis v3 watching v2 (the default, v2 empty)', { redisLayout: 'v3' }, true],
    ['Redis v3 draining v2', { redisLayout: 'v3', redisUpgradeFrom: 'v2' }, false],
    ['Redis v2', { redisLayout: 'v2' }, false],
  ] as const)('%s', async (_, queue, expected) => {
    const d = await start(queue);
    expect(typeof d.queue.ackAndClaim === 'function').toBe(expected);
    expect(d.loop!.claimsWithAcks).toBe(expected);
  });
});
