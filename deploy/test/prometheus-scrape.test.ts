import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { startOnFreePorts, startRedisServer, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { readYaml, ROOT } from './deploy-files';
import { healthcheckCommand, startCommand } from './dockerfile-stages';

/**
 * A real Prometheus (Debian's package; deploy/check.sh installs it) scrapes a real ingress and
 * dispatcher, each started as its image starts it (the Dockerfile's exec-form command, from
 * the built dist/) on free ports with a private redis-server, and loads the real alert rules.
 * Each process starts again on other ports when another process of the test run took one first.
 * Everything is read back through Prometheus's HTTP API.
 */
const run = promisify(execFile);
const API_KEY = 'deploy-test-key-0123456789';
/** Series the rules use that come from redis_exporter, which this test does not run. */
const FROM_REDIS_EXPORTER = new Set(['redis_memory_used_bytes', 'redis_memory_max_bytes']);
/** postgres_exporter's series (job postgres), which this test does not run either. */
const fromPostgresExporter = (name: string) => name.startsWith('pg_');
/** Exported series an operator needs on no dashboard panel. */
const NOT_ON_DASHBOARD = new Set<string>();

let redis: RedisServerHandle;
let dir: string;
const children: ChildProcess[] = [];
const stderr = new Map<ChildProcess, string>();
let ingressHttp: number;
let dispatcherHttp: number;
let promUrl: string;
let ingressEnv: NodeJS.ProcessEnv;
let dispatcherEnv: NodeJS.ProcessEnv;

function start(command: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  stderr.set(child, '');
  child.stderr!.on('data', (chunk: Buffer) => stderr.set(child, (stderr.get(child)! + chunk.toString()).slice(-4000)));
  children.push(child);
  return child;
}

async function query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}

beforeAll(async () => {
  await run('prometheus', ['--version']).catch((error: Error) => {
    throw new Error(`prometheus is not installed: run \`bash deploy/check.sh\` (installs Debian's prometheus): ${error.message}`, { cause: error });
  });
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), 'outbound-prometheus-'));
  const common = { PATH: process.env.PATH, REDIS_URL: redis.url, INTERNAL_TOKEN: 'deploy-test-internal-token', LOG_LEVEL: 'warn' };
  ingressHttp = (await startOnFreePorts('ingress', 2, ([http, tcp]) => {
    ingressEnv = {
      ...common, INGRESS_TCP_HOST: '127.0.0.1', INGRESS_TCP_PORT: String(tcp), INGRESS_HTTP_HOST: '127.0.0.1',
      INGRESS_HTTP_PORT: String(http), DEVICE_AUTH_SECRETS: 'deploy-test-secret-0123456789abcdef', INGRESS_REPLICA_ID: 'deploy-test-ingress',
    };
    return start(startCommand('ingress'), ingressEnv);
  }, 30_000)).ports[0]!;
  dispatcherHttp = (await startOnFreePorts('dispatcher', 1, ([http]) => {
    dispatcherEnv = { ...common, DISPATCHER_HTTP_HOST: '127.0.0.1', DISPATCHER_HTTP_PORT: String(http), API_KEYS: `${API_KEY}:admin` };
    return start(startCommand('dispatcher'), dispatcherEnv);
  }, 30_000)).ports[0]!;

  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [join(ROOT, 'deploy/prometheus/rules/outbound-alerts.yml')],
    scrape_configs: [
      { job_name: 'outbound-ingress', static_configs: [{ targets: [`127.0.0.1:${ingressHttp}`] }] },
      { job_name: 'outbound-dispatcher', static_configs: [{ targets: [`127.0.0.1:${dispatcherHttp}`] }] },
    ],
  };
  writeFileSync(join(dir, 'prometheus.yml'), YAML.stringify(config));
  const { ports: [promPort] } = await startOnFreePorts('prometheus', 1, ([port]) => start(
    ['prometheus', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, `data-${port}`)}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { PATH: process.env.PATH },
  ), 30_000, '/-/ready');
  promUrl = `http://127.0.0.1:${promPort}`;
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }));
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

test('the images\' HEALTHCHECK commands pass against the running services', async () => {
  for (const [target, env] of [['ingress', ingressEnv], ['dispatcher', dispatcherEnv]] as const) {
    const [cmd, ...args] = healthcheckCommand(target);
    await expect(run(cmd!, args, { env, timeout: 10_000 })).resolves.toBeDefined();
  }
});

test('Prometheus scrapes the ingress and the dispatcher: up == 1 for both', async () => {
  const up = await waitFor(async () => {
    const result = await query('up == 1');
    const jobs = result.map((r) => r.metric.job).sort();
    return jobs.length === 2 ? jobs : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, what: 'up == 1 for both jobs' });
  expect(up).toEqual(['outbound-dispatcher', 'outbound-ingress']);
});

test('queue depth reaches Prometheus and follows the queue', async () => {
  await waitFor(async () => (await query('outbound_dispatcher_queue_depth{state="pending"}')).length === 1, {
    timeoutMs: 20_000, intervalMs: 250, what: 'a queue-depth series',
  });
  const res = await fetch(`http://127.0.0.1:${dispatcherHttp}/v1/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ phyId: 'DEPLOYTEST1', payload: Buffer.from('hello').toString('base64') }),
  });
  expect(res.status).toBe(202);
  // The device is not connected: the command waits (pending, then parked for its device).
  const waiting = 'sum(outbound_dispatcher_queue_depth{state=~"pending|waiting_for_device|delayed|inflight"})';
  await waitFor(async () => (await query(waiting))[0]?.value[1] === '1', { timeoutMs: 20_000, intervalMs: 250, what: `${waiting} == 1` });
});

test('the alert rules load into Prometheus and evaluate cleanly; no availability alert fires', async () => {
  type Rules = { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
  const groups = await waitFor(async () => {
    const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as Rules;
    const all = body.data.groups.flatMap((g) => g.rules);
    return all.length > 0 && all.every((r) => r.health !== 'unknown') ? body.data.groups : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250, what: 'every rule evaluated' });
  const expected = readYaml<{ groups: Array<{ name: string; rules: Array<{ alert: string }> }> }>('deploy/prometheus/rules/outbound-alerts.yml');
  expect(groups.map((g) => g.name).sort()).toEqual(expected.groups.map((g) => g.name).sort());
  expect(groups.flatMap((g) => g.rules).length).toBe(expected.groups.flatMap((g) => g.rules).length);
  for (const rule of groups.flatMap((g) => g.rules)) expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', error: '' });
  // /api/v1/alerts lists pending alerts too, and the availability rules were pending before the first scrapes (and
  // again after any scrape that missed its 1 s timeout on a loaded machine). Read once, the answer depended on whether
  // a rule evaluation had run since both targets were up. Wait for an evaluation that finds both services alive: a
  // rule that can never clear (a wrong expression or job name) still times out here.
  const availability = ['OutboundNoDispatcherAlive', 'OutboundNoIngressAlive'];
  const active = async () => {
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: { alertname: string } }> } };
    return alerts.data.alerts.map((a) => a.labels.alertname).filter((name) => availability.includes(name));
  };
  await waitFor(async () => (await active()).length === 0, { timeoutMs: 20_000, intervalMs: 250, what: 'no availability alert active' });
});

test('every metric the alert rules, the dashboard and the KEDA triggers use is exported by the services, and every outbound_ metric is on the dashboard', async () => {
  const exported = new Set<string>();
  for (const port of [ingressHttp, dispatcherHttp]) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      exported.add(name!);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    }
  }
  expect(exported.has('outbound_dispatcher_queue_depth')).toBe(true);
  const rules = readYaml<{ groups: Array<{ rules: Array<{ expr: string }> }> }>('deploy/prometheus/rules/outbound-alerts.yml')
    .groups.flatMap((g) => g.rules.map((r) => r.expr)).join('\n');
  const dashboard = (JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/outbound-overview.json'), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> })
    .panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  const scaling = readYaml<{ spec: { triggers: Array<{ type: string; metadata: { query?: string } }> } }>('deploy/k8s/overlays/prod-keda/scaled-object.yaml')
    .spec.triggers.map((t) => t.metadata.query ?? '').join('\n');
  const used = new Set([...`${rules}\n${dashboard}\n${scaling}`.matchAll(/\b((?:outbound|redis|pg|nodejs|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!));
  const missing = [...used].filter((name) => !exported.has(name) && !FROM_REDIS_EXPORTER.has(name) && !fromPostgresExporter(name));
  expect(missing).toEqual([]);
  expect(used.size).toBeGreaterThan(10);
  // And the other way round: every series the services export under outbound_ is on the dashboard.
  const shown = (name: string) => dashboard.includes(name) || (/_(bucket|sum|count)$/.test(name) && dashboard.includes(name.replace(/_(bucket|sum|count)$/, '')));
  const hidden = [...exported].filter((name) => name.startsWith('outbound_') && !NOT_ON_DASHBOARD.has(name) && !shown(name));
  expect(hidden).toEqual([]);
});
