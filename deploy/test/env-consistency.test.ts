import { readYaml, renderKustomize, convictEnv, composeInterpolate, type K8sObject } from './deploy-files';
import { dataOf, find, workloads, type Container, type Workload } from './k8s-objects';
import { parseSimArgs } from './cli-sim-args';
import { ingressConfigSchema, loadIngressConfig } from '../../services/ingress/src/config';
import { dispatcherConfigSchema, loadDispatcherConfig } from '../../services/dispatcher/src/config';

/**
 * The deploy files speak to the services only through environment variables and ports. This
 * test reads both sides from the source of truth, the services' convict schemas, so a renamed
 * or removed variable, a changed default port or a value the schema rejects fails here instead
 * of in a cluster. The effective environment of each container is loaded with the services'
 * own loadIngressConfig / loadDispatcherConfig.
 */
const INGRESS_ENV = convictEnv(ingressConfigSchema);
const DISPATCHER_ENV = convictEnv(dispatcherConfigSchema);
/** Helper variables the manifests define for $(...) expansion; not read by the services. */
const K8S_HELPERS = new Set(['POD_NAME', 'POD_IP']);

interface ComposeService { environment?: Record<string, string>; ports?: string[]; command?: string[]; hostname?: string }
const compose = readYaml<{ services: Record<string, ComposeService> }>('docker-compose.yml');
const composeEnv = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => [k, composeInterpolate(String(v))]));
const containerPorts = (name: string): number[] => (compose.services[name]!.ports ?? []).map((p) => Number(p.split(':').pop()));

test('the schemas expose the names the deploy files rely on (guards this test itself)', () => {
  for (const name of ['REDIS_URL', 'REDIS_PASSWORD', 'INGRESS_TCP_PORT', 'INGRESS_HTTP_PORT', 'INGRESS_ADVERTISE_URL', 'INGRESS_REPLICA_ID', 'DEVICE_AUTH_SECRETS', 'INTERNAL_TOKEN']) {
    expect(INGRESS_ENV.has(name)).toBe(true);
  }
  for (const name of ['REDIS_URL', 'REDIS_PASSWORD', 'DISPATCHER_HTTP_PORT', 'API_KEYS', 'INTERNAL_TOKEN', 'QUEUE_BACKEND']) {
    expect(DISPATCHER_ENV.has(name)).toBe(true);
  }
});

describe('docker-compose.yml', () => {
  const ingressNames = Object.keys(compose.services).filter((n) => n.startsWith('ingress-'));
  const dispatcherNames = Object.keys(compose.services).filter((n) => n.startsWith('dispatcher-'));

  test.each(['ingress-1', 'ingress-2'])('%s: every variable is in the ingress schema and the config loads', (name) => {
    const env = composeEnv(name);
    expect(Object.keys(env).filter((k) => !INGRESS_ENV.has(k))).toEqual([]);
    const { config } = loadIngressConfig({ env });
    expect(config.replicaId).toBe(name);
    expect(containerPorts(name)).toEqual([config.tcp.port]);
    const advertised = new URL(config.http.advertiseUrl);
    expect(advertised.hostname).toBe(compose.services[name]!.hostname);
    expect(Number(advertised.port)).toBe(config.http.port);
  });

  test.each(['dispatcher-1', 'dispatcher-2'])('%s: every variable is in the dispatcher schema and the config loads', (name) => {
    const env = composeEnv(name);
    expect(Object.keys(env).filter((k) => !DISPATCHER_ENV.has(k))).toEqual([]);
    const { config } = loadDispatcherConfig({ env });
    expect(containerPorts(name)).toEqual([config.http.port]);
    expect(config.internalToken).toBe(composeEnv('ingress-1').INTERNAL_TOKEN);
    expect(config.apiKeys.length).toBeGreaterThan(0);
  });

  test('ingress and dispatchers agree on the store and the route registry (QUEUE_BACKEND, REGISTRY_PREFIX, REGISTRY_SHARDS)', () => {
    const stores = [...ingressNames.map((n) => loadIngressConfig({ env: composeEnv(n) }).config), ...dispatcherNames.map((n) => loadDispatcherConfig({ env: composeEnv(n) }).config)]
      .map((c) => ({ backend: 'queue' in c ? c.queue.backend : c.registry.backend, prefix: c.registry.prefix, shards: c.registry.shards, databaseUrl: c.postgres.url }));
    expect(new Set(stores.map((s) => JSON.stringify(s))).size).toBe(1);
    expect(stores[0]!.databaseUrl).toMatch(/^postgres:\/\//);
  });

  test('Prometheus scrapes every ingress and dispatcher on its HTTP port', () => {
    const prom = readYaml<{ scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> }>('deploy/prometheus/prometheus.yml');
    const targets = (job: string) => prom.scrape_configs.find((s) => s.job_name === job)!.static_configs.flatMap((s) => s.targets).sort();
    const ingressPort = loadIngressConfig({ env: composeEnv('ingress-1') }).config.http.port;
    const dispatcherPort = loadDispatcherConfig({ env: composeEnv('dispatcher-1') }).config.http.port;
    expect(targets('outbound-ingress')).toEqual(ingressNames.map((n) => `${n}:${ingressPort}`).sort());
    expect(targets('outbound-dispatcher')).toEqual(dispatcherNames.map((n) => `${n}:${dispatcherPort}`).sort());
  });

  test('the simulators connect to an ingress device port with a secret the ingress accepts', async () => {
    const sims = Object.keys(compose.services).filter((n) => n.startsWith('simulator-'));
    expect(sims.length).toBeGreaterThan(0);
    for (const name of sims) {
      const sim = await parseSimArgs(compose.services[name]!.command!, composeEnv(name));
      expect(ingressNames).toContain(sim.host);
      const ingress = loadIngressConfig({ env: composeEnv(sim.host) }).config;
      expect(sim.port).toBe(ingress.tcp.port);
      expect(ingress.auth.secrets).toContain(sim.secret);
    }
  });
});

describe.each(['deploy/k8s/overlays/dev', 'deploy/k8s/overlays/prod'])('%s', (dir) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderKustomize(dir);
  });

  /** A container's environment as the kubelet would build it (prod's external Secret: placeholders). */
  function effectiveEnv(c: Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) Object.assign(env, dataOf(objects, 'ConfigMap', from.configMapRef!.name));
    const fields: Record<string, string> = { 'metadata.name': 'outbound-ingress-0', 'status.podIP': '10.1.2.3' };
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      if (e.valueFrom?.fieldRef) env[e.name] = fields[e.valueFrom.fieldRef.fieldPath]!;
      else if (ref) {
        const value = dataOf(objects, 'Secret', ref.name)?.[ref.key];
        // The kubelet leaves an optional reference to a missing key unset.
        if (value !== undefined) env[e.name] = value;
        // A Secret created outside git (prod): stand-ins as strong as the services demand.
        else if (!ref.optional) env[e.name] = ref.key === 'api-keys' ? `${'k'.repeat(16)}:send` : 'p'.repeat(32);
      }
      else env[e.name] = (e.value ?? '').replace(/\$\(([A-Z_]+)\)/g, (_m, name: string) => env[name] ?? '');
    }
    return env;
  }

  const containerOf = (kind: string, name: string): Container => find<Workload>(objects, kind, name).spec.template.spec.containers[0]!;

  test('ingress: every variable is in the schema, the config loads, container ports match it', () => {
    const c = containerOf('StatefulSet', 'outbound-ingress');
    const env = effectiveEnv(c);
    expect(Object.keys(env).filter((k) => !INGRESS_ENV.has(k) && !K8S_HELPERS.has(k))).toEqual([]);
    const { config } = loadIngressConfig({ env });
    expect(config.replicaId).toBe('outbound-ingress-0');
    expect(config.http.advertiseUrl).toBe(`http://10.1.2.3:${config.http.port}`);
    const ports = Object.fromEntries(c.ports!.map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ devices: config.tcp.port, http: config.http.port });
  });

  test('dispatcher: every variable is in the schema, the config loads, the container port matches it', () => {
    const c = containerOf('Deployment', 'outbound-dispatcher');
    const env = effectiveEnv(c);
    expect(Object.keys(env).filter((k) => !DISPATCHER_ENV.has(k))).toEqual([]);
    const { config } = loadDispatcherConfig({ env });
    expect(Object.fromEntries(c.ports!.map((p) => [p.name, p.containerPort]))).toEqual({ http: config.http.port });
    expect(config.internalToken).toBe(effectiveEnv(containerOf('StatefulSet', 'outbound-ingress')).INTERNAL_TOKEN);
  });

  test('ingress and dispatcher agree on the store and the route registry (a mismatch splits the registry)', () => {
    const ingress = loadIngressConfig({ env: effectiveEnv(containerOf('StatefulSet', 'outbound-ingress')) }).config;
    const dispatcher = loadDispatcherConfig({ env: effectiveEnv(containerOf('Deployment', 'outbound-dispatcher')) }).config;
    expect({ backend: ingress.registry.backend, prefix: ingress.registry.prefix, shards: ingress.registry.shards })
      .toEqual({ backend: dispatcher.queue.backend, prefix: dispatcher.registry.prefix, shards: dispatcher.registry.shards });
  });

  test('PostgreSQL mode: both services take DATABASE_URL from outbound-secrets (optional), and load with QUEUE_BACKEND=postgres', () => {
    const ingressC = containerOf('StatefulSet', 'outbound-ingress');
    const dispatcherC = containerOf('Deployment', 'outbound-dispatcher');
    for (const c of [ingressC, dispatcherC]) {
      expect(c.env!.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: expect.stringMatching(/^outbound-secrets/), key: 'database-url', optional: true });
    }
    // What docs/deploy.md tells you to do: QUEUE_BACKEND=postgres in both ConfigMaps (prod: plus the Secret's key).
    const url = dir.endsWith('dev') ? undefined : 'postgres://outbound:secret@db.example.com:5432/outbound';
    const postgresEnv = (c: Container) => ({ ...effectiveEnv(c), QUEUE_BACKEND: 'postgres', ...(url ? { DATABASE_URL: url } : {}) });
    const ingress = loadIngressConfig({ env: postgresEnv(ingressC) }).config;
    const dispatcher = loadDispatcherConfig({ env: postgresEnv(dispatcherC) }).config;
    expect([ingress.registry.backend, dispatcher.queue.backend]).toEqual(['postgres', 'postgres']);
    expect(ingress.postgres.url).toMatch(/^postgres:\/\//);
    expect(dispatcher.postgres.url).toBe(ingress.postgres.url);
  });

  test('the device Service forwards the ingress device port', () => {
    const svc = find(objects, 'Service', 'outbound-ingress-devices') as K8sObject & { spec: { ports: Array<{ port: number; targetPort: string }> } };
    const tcpPort = loadIngressConfig({ env: effectiveEnv(containerOf('StatefulSet', 'outbound-ingress')) }).config.tcp.port;
    expect(svc.spec.ports).toEqual([expect.objectContaining({ port: tcpPort, targetPort: 'devices' })]);
  });

  test('simulators, where deployed, reach the device Service with an accepted secret', async () => {
    const sims = workloads(objects).filter((w) => w.metadata.name === 'outbound-simulator');
    expect(sims.length).toBe(dir.endsWith('dev') ? 1 : 0);
    for (const w of sims) {
      const c = w.spec.template.spec.containers[0]!;
      const sim = await parseSimArgs(c.args!, effectiveEnv(c));
      find(objects, 'Service', sim.host);
      const ingress = loadIngressConfig({ env: effectiveEnv(containerOf('StatefulSet', 'outbound-ingress')) }).config;
      expect(sim.port).toBe(ingress.tcp.port);
      expect(ingress.auth.secrets).toContain(sim.secret);
    }
  });
});
