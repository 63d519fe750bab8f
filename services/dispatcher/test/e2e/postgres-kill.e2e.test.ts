import { Client } from 'pg';
import { SimulatedDevice } from '@outbound/cli';
import { createLogger } from '@outbound/core';
import { loadIngressConfig, startIngress, type IngressHandle } from '@outbound/ingress';
import { startPostgresServer, testRedisUrl, uniquePrefix, waitFor, type PostgresServerHandle } from '@outbound/test-support';
import { ADMIN_KEY, SEND_KEY } from '../support/harness';
import { spawnDispatcher, type DispatcherProcess } from './support/dispatcher-process';
import { b64, DEVICE_SECRET, testIngressSettings } from './support/stack';

/**
 * kill -9 of the PostgreSQL postmaster under load, with QUEUE_BACKEND=postgres: two dispatcher
 * processes (one API-only taking the load from back-to-back callers, one delivering) and an in-process ingress on a
 * private server. The delivering one waits up to a minute between claims unless woken, so
 * commands accepted after the restart reach the device only through its LISTEN connection
 * coming back (or the wake-up on reconnect), not through a poll.
 */
interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  id?: string;
  at: number;
}

const DEVICES = ['PGKILL-1', 'PGKILL-2', 'PGKILL-3'];
/** Enough that the API always has an enqueue running on the server (it runs 4 at once and batches the rest). */
const CALLERS = 16;

describe('end to end on postgres: kill -9 of the PostgreSQL server under load', () => {
  let pg: PostgresServerHandle;
  let ingress: IngressHandle;
  const devices: SimulatedDevice[] = [];
  const processes: DispatcherProcess[] = [];
  let loading = false;

  beforeAll(async () => {
    pg = await startPostgresServer();
  }, 60_000);

  afterAll(async () => {
    loading = false;
    await Promise.all(devices.map((d) => d.close().catch(() => undefined)));
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await ingress?.stop();
    await pg?.stop();
  });

  it('keeps both dispatchers alive, answers 503 + Retry-After while it is down, takes commands again within 5 s of its return and delivers every accepted one', async () => {
    const prefix = uniquePrefix('pgkill').replace(/-/g, '_');
    const env = { QUEUE_BACKEND: 'postgres', DATABASE_URL: pg.url, DATABASE_CONNECT_TIMEOUT_MS: '1000' };
    const { config } = loadIngressConfig({
      env: {},
      overrides: testIngressSettings(testRedisUrl(), prefix, 'replica-0', { registry: { backend: 'postgres', heartbeatTtlMs: 60_000 }, postgres: { url: pg.url } }),
    });
    ingress = await startIngress(config, { logger: createLogger({ service: 'ingress', level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
    for (const phyId of DEVICES) {
      const device = new SimulatedDevice({ host: '127.0.0.1', port: ingress.tcpPort, phyId, secret: DEVICE_SECRET });
      await device.connect();
      devices.push(device);
    }
    const worker = await spawnDispatcher(testRedisUrl(), prefix, { ...env, DISPATCHER_IDLE_WAIT_MS: '60000', DISPATCHER_LEASE_MS: '3000', DISPATCHER_LEASE_MARGIN_MS: '1000', DISPATCHER_REAP_INTERVAL_MS: '200' });
    processes.push(worker);
    const api = await spawnDispatcher(testRedisUrl(), prefix, { ...env, DISPATCHER_WORKER_ENABLED: 'false' });
    processes.push(api);

    // Callers back to back, so enqueues are running on the server when it dies (a
    // checked-out connection is where a dying server's 'error' event lands); each answer kept.
    const answers: Answer[] = [];
    loading = true;
    let n = 0;
    const caller = async () => {
      while (loading) {
        const phyId = DEVICES[n % DEVICES.length];
        const payload = b64(`c${n}`);
        n += 1;
        await fetch(`${api.url}/v1/commands`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${SEND_KEY}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ phyId, payload, ackTimeoutMs: 1_000, maxAttempts: 20 }),
          signal: AbortSignal.timeout(10_000),
        }).then(
          async (res) => {
            const body = (await res.json()) as { id?: string; code?: string };
            answers.push({ status: res.status, code: body.code, retryAfter: res.headers.get('retry-after'), id: body.id, at: Date.now() });
          },
          async () => {
            answers.push({ status: 0, retryAfter: null, at: Date.now() });
            await new Promise((resolve) => setTimeout(resolve, 50)); // the API is gone: do not spin
          },
        );
      }
    };
    const load = Promise.all(Array.from({ length: CALLERS }, caller));

    const accepted = () => answers.filter((a) => a.status === 202).length;
    await waitFor(() => accepted() >= 50, { timeoutMs: 15_000, what: '50 commands accepted before the kill' });

    // Killed while an enqueue is running on the server (one statement, enqueue_commands(), or a
    // transaction between statements): its connection is checked out of the pool, where a
    // vanishing server's 'error' event lands on the client itself.
    const watcher = new Client({ connectionString: pg.url });
    watcher.on('error', () => undefined);
    await watcher.connect();
    await waitFor(async () => {
      const open = await watcher.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'outbound-dispatcher' AND (state = 'idle in transaction' OR (state = 'active' AND query LIKE '%enqueue_commands(%'))",
      );
      return (open.rowCount ?? 0) > 0;
    }, { timeoutMs: 10_000, intervalMs: 0, what: 'an enqueue to be running on the server' });
    await pg.kill();
    const killedAt = Date.now();
    await watcher.end().catch(() => undefined);
    // While the server is down the API answers 503 with Retry-After, never 500 and never a hang.
    const exited = () => processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.output().slice(-2_000));
    await waitFor(() => {
      if (exited().length > 0) throw new Error(`a dispatcher exited: ${exited().join('\n')}`);
      return answers.filter((a) => a.at > killedAt && a.status === 503).length >= 20;
    }, { timeoutMs: 20_000, what: '20 answers of 503 after the kill' });
    const down = answers.filter((a) => a.at > killedAt);
    expect(down.filter((a) => a.status !== 503 && a.status !== 202).map((a) => `${a.status} ${a.code}`)).toEqual([]);
    for (const a of down.filter((x) => x.status === 503)) {
      expect(a.retryAfter).toMatch(/^\d+$/);
      expect(['STORE_UNAVAILABLE', 'OUTCOME_UNKNOWN']).toContain(a.code);
      if (a.code === 'OUTCOME_UNKNOWN') expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    for (const p of processes) expect({ exit: p.child.exitCode, signal: p.child.signalCode }).toEqual({ exit: null, signal: null });

    await pg.restart();
    const backAt = Date.now();
    const firstAccepted = await waitFor(() => answers.find((a) => a.at > backAt && a.status === 202), { timeoutMs: 5_000, what: 'an enqueue accepted within 5 s of the restart' });
    expect(firstAccepted.at - backAt).toBeLessThan(5_000);
    await waitFor(() => answers.filter((a) => a.at > firstAccepted.at && a.status === 202).length >= 50, { timeoutMs: 15_000, what: '50 more commands accepted after the restart' });
    loading = false;
    await load;

    // Every command answered 202 is delivered (the device applied it) and acked; one answered
    // OUTCOME_UNKNOWN is either stored (then delivered too) or not stored at all.
    const applied = () => new Set(devices.flatMap((d) => d.appliedIds));
    const ids = answers.filter((a) => a.status === 202).map((a) => a.id!);
    await waitFor(() => ids.every((id) => applied().has(id)), { timeoutMs: 20_000, intervalMs: 50, what: `all ${ids.length} accepted commands applied by the devices` });
    for (const a of answers.filter((x) => x.code === 'OUTCOME_UNKNOWN')) {
      const res = await fetch(`${api.url}/v1/commands/${a.id}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
      expect([200, 404]).toContain(res.status);
    }
    for (const p of processes) {
      expect({ exit: p.child.exitCode, signal: p.child.signalCode }).toEqual({ exit: null, signal: null });
      expect(p.output()).not.toMatch(/Unhandled|uncaught/i);
    }
  }, 120_000);
});
