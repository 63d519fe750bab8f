import { convictEnv, renderKustomize, type K8sObject } from './deploy-files';
import { dataOf, find, selects, validateK8sObject, workloads, type Container, type Workload } from './k8s-objects';
import { ingressConfigSchema } from '../../services/ingress/src/config';
import { dispatcherConfigSchema } from '../../services/dispatcher/src/config';

/**
 * Renders the kustomize base and both overlays with kustomize v5 (kubectl kustomize) and checks
 * the output offline: each object against the Kubernetes / Prometheus Operator JSON schemas,
 * then what the manifests must hold (probes, drain time, NetworkPolicy, selectors).
 */
const DIRS = ['deploy/k8s/base', 'deploy/k8s/overlays/dev', 'deploy/k8s/overlays/prod', 'deploy/k8s/overlays/prod-keda'];
const rendered = new Map<string, K8sObject[]>();
beforeAll(() => {
  for (const dir of DIRS) rendered.set(dir, renderKustomize(dir));
});

function container(w: Workload): Container {
  return w.spec.template.spec.containers[0]!;
}

/** A setting's value: the service's ConfigMap, else the convict default. */
function setting(objects: K8sObject[], w: Workload, schema: object, env: string): number {
  const ref = container(w).envFrom?.find((e) => e.configMapRef)?.configMapRef?.name;
  const value = ref ? dataOf(objects, 'ConfigMap', ref)?.[env] : undefined;
  return Number(value ?? convictEnv(schema).get(env));
}

test('the schema check fails on a malformed object (so a pass means something)', () => {
  const objects = rendered.get('deploy/k8s/base')!;
  const broken = structuredClone(find<Workload>(objects, 'Deployment', 'outbound-dispatcher'));
  (container(broken).ports![0] as { containerPort: unknown }).containerPort = 'eighty';
  expect(() => validateK8sObject(broken)).toThrow(/containerPort must be integer/);
  const noSelector = structuredClone(broken) as K8sObject & { spec: Record<string, unknown> };
  delete noSelector.spec.selector;
  expect(() => validateK8sObject(noSelector)).toThrow(/selector/);
});

describe.each(DIRS)('%s', (dir) => {
  const objects = (): K8sObject[] => rendered.get(dir)!;

  test('every object is valid against its Kubernetes or Prometheus Operator schema', () => {
    expect(objects().length).toBeGreaterThan(10);
    for (const obj of objects()) validateK8sObject(obj);
  });

  test('ingress pods sit behind a headless Service and a device Service; dispatchers behind an API Service', () => {
    const ingress = find<Workload>(objects(), 'StatefulSet', 'outbound-ingress');
    const dispatcher = find<Workload>(objects(), 'Deployment', 'outbound-dispatcher');
    const headless = find(objects(), 'Service', 'outbound-ingress-headless') as K8sObject & { spec: { clusterIP: string; selector: Record<string, string> } };
    expect(headless.spec.clusterIP).toBe('None');
    expect((ingress.spec as { serviceName?: string }).serviceName).toBe('outbound-ingress-headless');
    const devices = find(objects(), 'Service', 'outbound-ingress-devices') as K8sObject & { spec: { type: string; selector: Record<string, string>; ports: Array<{ targetPort: string }> } };
    expect(['LoadBalancer', 'NodePort']).toContain(devices.spec.type);
    const api = find(objects(), 'Service', 'outbound-dispatcher') as K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } };
    for (const [service, pods] of [[headless, ingress], [devices, ingress], [api, dispatcher]] as const) {
      expect(selects(service.spec.selector, pods.spec.template.metadata.labels)).toBe(true);
      const portNames = container(pods).ports!.map((p) => p.name);
      for (const port of (service.spec as { ports: Array<{ targetPort: string }> }).ports) expect(portNames).toContain(port.targetPort);
    }
  });

  test('every workload selects its own pods; PDBs, PodMonitors and Services select existing pods', () => {
    const all = workloads(objects());
    for (const w of all) expect(selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels)).toBe(true);
    const selectorsOf = (kind: string) =>
      objects().filter((o) => o.kind === kind).map((o) => ({ name: o.metadata.name, selector: ((o as unknown as { spec: { selector: { matchLabels?: Record<string, string> } } }).spec.selector.matchLabels ?? {}) }));
    for (const kind of ['PodDisruptionBudget', 'PodMonitor', 'Service']) {
      for (const { name, selector } of selectorsOf(kind)) {
        const matched = all.filter((w) => selects(selector, w.spec.template.metadata.labels));
        expect({ kind, name, matched: matched.length > 0 }).toEqual({ kind, name, matched: true });
      }
    }
    for (const pm of objects().filter((o) => o.kind === 'PodMonitor') as Array<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: Array<{ port: string }> } }>) {
      const pods = all.filter((w) => selects(pm.spec.selector.matchLabels, w.spec.template.metadata.labels));
      const ports = pods.flatMap((w) => w.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
      for (const endpoint of pm.spec.podMetricsEndpoints) expect(ports).toContain(endpoint.port);
    }
    const pdbs = objects().filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name);
    expect(pdbs).toEqual(expect.arrayContaining(['outbound-ingress', 'outbound-dispatcher']));
    // One autoscaler for the dispatchers: the CPU HPA, or KEDA's ScaledObject in place of it.
    const scalers = objects().filter((o) => ['HorizontalPodAutoscaler', 'ScaledObject'].includes(o.kind) && o.metadata.name === 'outbound-dispatcher') as Array<K8sObject & { spec: { scaleTargetRef: { kind?: string; name: string } } }>;
    expect(scalers).toHaveLength(1);
    find(objects(), scalers[0]!.spec.scaleTargetRef.kind ?? 'Deployment', scalers[0]!.spec.scaleTargetRef.name);
  });

  test('liveness, readiness and startup probes use /healthz and /readyz on the service port', () => {
    for (const name of ['outbound-ingress', 'outbound-dispatcher']) {
      const w = workloads(objects()).find((o) => o.metadata.name === name)!;
      const c = container(w);
      const ports = c.ports!.map((p) => p.name);
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(c.startupProbe?.httpGet?.path).toBe('/healthz');
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(ports).toContain(probe!.httpGet!.port);
    }
  });

  test('terminationGracePeriodSeconds covers preStop plus each service\'s own shutdown grace', () => {
    const preStop = (w: Workload) => Number(container(w).lifecycle?.preStop?.exec?.command[1] ?? 0);
    const ingress = find<Workload>(objects(), 'StatefulSet', 'outbound-ingress');
    const ingressGraceS = setting(objects(), ingress, ingressConfigSchema, 'INGRESS_SHUTDOWN_GRACE_MS') / 1000;
    expect(ingress.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop(ingress) + ingressGraceS);
    const dispatcher = find<Workload>(objects(), 'Deployment', 'outbound-dispatcher');
    // main.ts gives the dispatcher's shutdown its grace plus 5 s to close stores.
    const dispatcherGraceS = setting(objects(), dispatcher, dispatcherConfigSchema, 'DISPATCHER_SHUTDOWN_GRACE_MS') / 1000 + 5;
    expect(dispatcher.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop(dispatcher) + dispatcherGraceS);
  });

  test('the internal delivery port admits only dispatcher pods (and Prometheus); the device port admits all', () => {
    type Rule = { from?: Array<{ podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: object }>; ports: Array<{ port: string }> };
    const policy = find(objects(), 'NetworkPolicy', 'outbound-ingress') as K8sObject & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[] } };
    const ingress = find<Workload>(objects(), 'StatefulSet', 'outbound-ingress');
    const dispatcher = find<Workload>(objects(), 'Deployment', 'outbound-dispatcher');
    expect(selects(policy.spec.podSelector.matchLabels, ingress.spec.template.metadata.labels)).toBe(true);
    expect(policy.spec.policyTypes).toContain('Ingress');
    const httpRules = policy.spec.ingress.filter((r) => r.ports.some((p) => p.port === 'http'));
    expect(httpRules.length).toBeGreaterThan(0);
    for (const rule of httpRules) {
      expect(rule.from?.length).toBeGreaterThan(0);
      for (const peer of rule.from!) {
        const fromDispatcher = !peer.namespaceSelector && selects(peer.podSelector?.matchLabels ?? {}, dispatcher.spec.template.metadata.labels) && Object.keys(peer.podSelector?.matchLabels ?? {}).length > 0;
        const fromPrometheus = Boolean(peer.namespaceSelector) && peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'prometheus';
        expect({ peer, allowed: fromDispatcher || fromPrometheus }).toEqual({ peer, allowed: true });
      }
    }
    const deviceRule = policy.spec.ingress.find((r) => r.ports.some((p) => p.port === 'devices'));
    expect(deviceRule?.from).toBeUndefined();
  });

  test('pods run as non-root with a read-only root filesystem and no service account token', () => {
    for (const name of ['outbound-ingress', 'outbound-dispatcher']) {
      const w = workloads(objects()).find((o) => o.metadata.name === name)!;
      const pod = w.spec.template.spec as unknown as { securityContext: { runAsNonRoot: boolean; runAsUser: number }; automountServiceAccountToken: boolean; containers: Array<{ securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean } }> };
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.containers[0]!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    }
  });
});

test('dev: every referenced ConfigMap and Secret key exists, Redis runs with AOF and noeviction', () => {
  const objects = rendered.get('deploy/k8s/overlays/dev')!;
  for (const w of workloads(objects)) {
    for (const c of w.spec.template.spec.containers) {
      for (const from of c.envFrom ?? []) expect(dataOf(objects, 'ConfigMap', from.configMapRef!.name)).toBeDefined();
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const data = dataOf(objects, e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
        expect({ workload: w.metadata.name, env: e.name, found: data?.[ref.key] !== undefined }).toEqual({ workload: w.metadata.name, env: e.name, found: true });
      }
    }
  }
  const redisArgs = container(find<Workload>(objects, 'StatefulSet', 'redis')).args!.join(' ');
  expect(redisArgs).toContain('--appendonly yes');
  expect(redisArgs).toContain('--appendfsync everysec');
  expect(redisArgs).toContain('--maxmemory-policy noeviction');
  expect(redisArgs).toMatch(/--requirepass \$\(REDIS_PASSWORD\)/);
  expect(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'outbound-dev')).toBe(true);
});

test('prod: no Secret in git, images pinned to a version, Redis through Sentinel', () => {
  const objects = rendered.get('deploy/k8s/overlays/prod')!;
  expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  for (const w of workloads(objects)) {
    for (const c of w.spec.template.spec.containers) expect(c.image).toMatch(/:\d+\.\d+\.\d+$/);
  }
  const ingress = find<Workload>(objects, 'StatefulSet', 'outbound-ingress');
  const config = dataOf(objects, 'ConfigMap', container(ingress).envFrom![0]!.configMapRef!.name)!;
  expect(config.REDIS_MODE).toBe('sentinel');
  expect(config.REDIS_SENTINELS!.split(',')).toHaveLength(3);
  expect(ingress.spec.replicas).toBeGreaterThanOrEqual(3);
});

test('prod-keda: one autoscaler (KEDA\'s), on the dispatcher, scaling on queue depth and the oldest ready command\'s age', () => {
  const objects = rendered.get('deploy/k8s/overlays/prod-keda')!;
  expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
  const scaled = find(objects, 'ScaledObject', 'outbound-dispatcher') as K8sObject & {
    spec: { scaleTargetRef: { kind: string; name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: Array<{ type: string; name?: string; metadata: Record<string, string> }> };
  };
  find<Workload>(objects, scaled.spec.scaleTargetRef.kind, scaled.spec.scaleTargetRef.name);
  expect(scaled.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'outbound-dispatcher' });
  expect(scaled.metadata.namespace).toBe('outbound');
  expect(scaled.spec.minReplicaCount).toBeLessThanOrEqual(scaled.spec.maxReplicaCount);
  const prometheus = scaled.spec.triggers.filter((t) => t.type === 'prometheus');
  expect(prometheus.map((t) => t.name)).toEqual(['queue-depth', 'oldest-ready-age']);
  expect(prometheus[0]!.metadata.query).toMatch(/^max\(outbound_dispatcher_queue_depth\{namespace="outbound",/);
  expect(prometheus[1]!.metadata.query).toMatch(/^max\(outbound_dispatcher_queue_oldest_ready_age_seconds\{namespace="outbound"\}\)$/);
  for (const t of prometheus) expect(Number(t.metadata.threshold)).toBeGreaterThan(0);
});
