import request from 'supertest';
import { startRedisServer, waitFor, type RedisServerHandle } from '@outbound/test-support';
import type { RunningDispatcher } from '../src';
import { SEND_KEY, as, startTestDispatcher } from './support/harness';

const payload = Buffer.from('set-power 11kW').toString('base64');

/** Milliseconds a request took, with its response. */
async function timed<T>(work: Promise<T>): Promise<{ ms: number; res: T }> {
  const started = Date.now();
  const res = await work;
  return { ms: Date.now() - started, res };
}

// Redis frozen (SIGSTOP) past the command timeout: the server took the bytes but answers nothing.
describe('public API while Redis is stopped (SIGSTOP)', () => {
  let redis: RedisServerHandle;
  let d: RunningDispatcher;
  beforeAll(async () => {
    redis = await startRedisServer();
    // commandTimeoutMs 2000 (harness): an unanswered enqueue gives up after 2 s.
    d = await startTestDispatcher(redis.url, { worker: { enabled: false } }, 'api-store-stall');
  });
  afterAll(async () => {
    redis.process.kill('SIGCONT');
    await d.stop();
    await redis.stop();
  });

  it('answers OUTCOME_UNKNOWN with the id for what may be stored, fails fast once the stall is known, and the id is stored after SIGCONT', async () => {
    await request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'STALL-1', payload }).expect(202);
    redis.process.kill('SIGSTOP');

    // then() sends them now (supertest sends on first then), before the stall is known.
    const single = request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'STALL-1', payload }).then((res) => res);
    const batch = request(d.app).post('/v1/commands/batch').set(as(SEND_KEY)).send({ commands: [{ phyId: 'STALL-2', payload }, { phyId: 'STALL-3', payload }] }).then((res) => res);
    // Readiness answers within a second during the stall, and says the store is down.
    const ready = await timed(request(d.app).get('/readyz'));
    expect(ready.ms).toBeLessThan(1_000);
    expect(ready.res.status).toBe(503);
    const health = await timed(request(d.app).get('/health'));
    expect(health.ms).toBeLessThan(1_000);
    expect(health.res.body.checks.redis.status).toBe('down');

    const unknown = await single;
    expect(unknown.status).toBe(503);
    expect(unknown.headers['retry-after']).toBe('1');
    expect(unknown.body.code).toBe('OUTCOME_UNKNOWN');
    const id = unknown.body.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const batchAnswer = await batch;
    expect(batchAnswer.status).toBe(200);
    expect(batchAnswer.headers['retry-after']).toBe('1');
    expect(batchAnswer.body.accepted).toBe(0);
    const batchIds = (batchAnswer.body.results as Array<{ code: string; id: string }>).map((r) => {
      expect(r.code).toBe('OUTCOME_UNKNOWN');
      return r.id;
    });
    expect(new Set(batchIds).size).toBe(2);

    // The stall is known now (a ping unanswered for over a second): nothing is sent, and
    // the answer says so at once instead of after the command timeout (2 s): half of it leaves
    // room for a loaded host's scheduling and still fails an answer that waited for the timeout.
    const fast = await timed(request(d.app).post('/v1/commands').set(as(SEND_KEY)).send({ phyId: 'STALL-4', payload }));
    expect(fast.ms).toBeLessThan(1_000);
    expect(fast.res.status).toBe(503);
    expect(fast.res.body.code).toBe('STORE_UNAVAILABLE');
    expect(fast.res.headers['retry-after']).toBe('1');

    redis.process.kill('SIGCONT');
    // Redis ran what it had received: each id answered as unknown is stored.
    for (const stored of [id, ...batchIds]) {
      const read = await waitFor(async () => {
        const res = await request(d.app).get(`/v1/commands/${stored}`).set(as(SEND_KEY));
        return res.status === 200 ? res : null;
      }, { timeoutMs: 10_000, what: `command ${stored} readable after SIGCONT` });
      expect(read.body).toMatchObject({ id: stored, status: 'queued' });
    }
    // The refused one was never sent: STALL-4 holds nothing.
    expect(await d.queue.listDevice('STALL-4')).toEqual([]);
    const metrics = await request(d.app).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/outbound_dispatcher_store_errors_total\{backend="redis",kind="timeout"[^}]*\} [1-9]/);
    expect(metrics.text).toMatch(/outbound_dispatcher_store_errors_total\{backend="redis",kind="unreachable"[^}]*\} [1-9]/);
  });
});
