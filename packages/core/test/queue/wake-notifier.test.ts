import Redis from 'ioredis';
import { WakeNotifier } from '../../src/queue/redis/wake-notifier';

/**
 * A claimer caps its wait at the next due time and claims when it ends, so the wait must not
 * end before the clock (Date.now(), which due times are compared with) reaches that time. Node
 * timers run on a monotonic millisecond clock, which can be ahead of Date.now() when they fire.
 */
describe('WakeNotifier wait', () => {
  const client = new Redis({ lazyConnect: true }); // never connected: a wait without messages needs no server

  afterAll(() => client.disconnect());

  it('ends no earlier than Date.now() reaching its timeout, when the timer fires ahead of that clock', async () => {
    const notifier = new WakeNotifier(client, 'unused-channel');
    const realNow = Date.now.bind(Date);
    let lagMs = 0;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() - lagMs);
    try {
      const startedAt = Date.now();
      const waiting = notifier.register().wait(60);
      lagMs = 25; // from here on Date.now() runs 25 ms behind the timers' clock
      await waiting;
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(60);
    } finally {
      clock.mockRestore();
    }
  });

  it('still ends at once on a message', async () => {
    const notifier = new WakeNotifier(client, 'unused-channel');
    const startedAt = Date.now();
    const waiting = notifier.register().wait(60_000);
    notifier.wakeAll();
    await waiting;
    expect(Date.now() - startedAt).toBeLessThan(30_000);
  });
});
