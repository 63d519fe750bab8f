import { testRedisUrl, waitFor } from '@outbound/test-support';
import { b64, startStack, type Stack } from './support/stack';

/** The dispatcher names the ingress replica that wrote a command to its device, and the store logs it (Redis here; the store conformance covers every store). */
describe('delivered events carry the replica that wrote the command', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-delivered', backend: 'redis' });
  });
  afterAll(() => stack.stop());

  it('logs command.delivered with the replica for every attempt the device answered', async () => {
    const device = await stack.device('E2E-EV', { busyRate: 1 });
    const id = await stack.enqueue({ phyId: 'E2E-EV', payload: b64('x'), maxAttempts: 10 });
    await waitFor(() => device.stats.busy >= 1, { what: 'a BUSY answer' });
    device.setBehaviour({ busyRate: 0 });
    await stack.waitStatus(id, 'acked');
    const events = (await stack.api.queue.commandEvents(id))!;
    const delivered = events.filter((e) => e.type === 'command.delivered');
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    for (const e of delivered) expect(e.details.replica).toBe('replica-0');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['command.queued', 'command.retrying', 'command.acked']));
    expect(events.at(-2)).toMatchObject({ type: 'command.delivered', attempt: events.at(-1)!.attempt });
  });
});
