import request from 'supertest';
import { testRedisUrl, waitFor } from '@outbound/test-support';
import { ADMIN_KEY, as } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { BACKENDS, startStack, type Stack } from './support/stack';

interface ClusterDispatcher {
  id: string;
  startedAt: string;
  lastSeenAt: string;
}

describe.each(BACKENDS)('dispatchers alive in GET /v1/cluster on %s', (backend) => {
  let stack: Stack;
  let killed: DispatcherProcess | null = null;
  beforeAll(async () => {
    stack = await startStack(testRedisUrl(), { name: 'e2e-dispatchers-alive', backend, ingresses: 0, dispatchers: 2 });
  });
  afterAll(async () => {
    if (killed && killed.child.exitCode === null && killed.child.signalCode === null) killed.child.kill('SIGKILL');
    await killed?.exited;
    await stack.stop();
  });

  const dispatchers = async (): Promise<ClusterDispatcher[]> => {
    const res = await request(stack.api.app).get('/v1/cluster').set(as(ADMIN_KEY)).expect(200);
    return res.body.dispatchers as ClusterDispatcher[];
  };

  it('lists each running dispatcher, drops one that stops at once and one that is killed after its TTL', async () => {
    // A dispatcher process that is killed later: its record lapses on its own.
    killed = await spawnDispatcher(testRedisUrl(), stack.prefix, {
      ...stack.env, DISPATCHER_ID: 'doomed', DISPATCHER_HEARTBEAT_INTERVAL_MS: '200', DISPATCHER_HEARTBEAT_TTL_MS: '1500',
    });
    const [first, second] = stack.dispatchers.map((d) => d.dispatcherId);
    const all = await dispatchers();
    expect(all.map((d) => d.id)).toEqual([first!, second!, 'doomed'].sort((a, b) => a.localeCompare(b)));
    for (const d of all) {
      expect(Date.parse(d.startedAt)).toBeLessThanOrEqual(Date.parse(d.lastSeenAt));
      expect(Math.abs(Date.now() - Date.parse(d.lastSeenAt))).toBeLessThan(10_000);
    }
    // Heartbeats go on: lastSeenAt moves.
    const seen = all.find((d) => d.id === second)!.lastSeenAt;
    await waitFor(async () => (await dispatchers()).find((d) => d.id === second)!.lastSeenAt > seen, { what: 'a newer heartbeat of the second dispatcher' });

    // A clean stop removes the record before stop() returns.
    await stack.dispatchers[1]!.stop();
    expect((await dispatchers()).map((d) => d.id)).not.toContain(second);

    killed.child.kill('SIGKILL');
    await killed.exited;
    await waitFor(async () => !(await dispatchers()).some((d) => d.id === 'doomed'), { timeoutMs: 10_000, what: 'the killed dispatcher to lapse' });
    expect((await dispatchers()).map((d) => d.id)).toEqual([first]);
  });
});
