import { testRedisUrl } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY } from '../../../services/dispatcher/test/support/harness';
import { startStack, type Stack } from '../../../services/dispatcher/test/e2e/support/stack';
import { run } from './fixtures/program';
import { compileFixture } from './support/compile';

describe('a program using @outbound/client (test/fixtures/program.ts)', () => {
  it('compiles under strict', () => {
    expect(compileFixture('program.ts')).toEqual([]);
  }, 60_000);

  describe('against a running stack (dispatcher, ingress, a simulated device, its own webhook receiver)', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack(testRedisUrl(), { name: 'client-program', dispatcher: { webhooks: { pollMs: 100 } } });
    });
    afterAll(() => stack.stop());

    it('sends, waits, cancels, lists, follows the stream and verifies every webhook delivery', async () => {
      const phyId = 'PROGRAM-1';
      await stack.device(phyId, { result: (_id, payload) => Buffer.concat([Buffer.from('ok:'), payload]) });
      const report = await run({ baseUrl: stack.api.url, sendKey: SEND_KEY, adminKey: ADMIN_KEY, phyId });

      expect(report).toMatchObject({
        sentAndWaited: 'acked',
        result: 'ok:hello',
        scheduled: { cancelled: 'cancelled', readBack: 'cancelled' },
        cancelAcked: '409 INVALID_STATE',
        batch: ['acked', 'acked'],
        timeline: ['command.queued', 'command.delivered', 'command.acked'],
      });
      const [sentAndWaited, ...batch] = report.acked;
      // Newest first, one page at a time: the batch (its two in either order), the cancelled one, the first.
      expect(report.listed).toHaveLength(4);
      expect(report.listed.slice(2)).toEqual([report.scheduled.id, sentAndWaited]);
      expect([...report.listed.slice(0, 2)].sort()).toEqual([...batch].sort());

      const outcomes = [...report.acked.map((id) => `${id} command.acked`), `${report.scheduled.id} command.cancelled`].sort();
      expect(report.streamed.map((e) => `${e.commandId} ${e.type}`).sort()).toEqual(outcomes);
      // Every POST the receiver took verified; each event once by its webhook-id.
      expect(report.webhooks.refused).toBe(0);
      const byId = new Map(report.webhooks.verified.map((e) => [e.id, `${e.commandId} ${e.type}`]));
      expect([...byId.values()].sort()).toEqual(outcomes);
    });
  });
});
