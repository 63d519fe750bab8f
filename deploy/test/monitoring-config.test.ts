import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readYaml, ROOT } from './deploy-files';

/**
 * The monitoring files agree with each other: the Kubernetes PrometheusRule carries exactly the
 * rules promtool tests (deploy/prometheus/rules), and the dashboard uses the provisioned data
 * source. That the metric names exist is proven against running services in
 * prometheus-scrape.test.ts.
 */
interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface Groups { groups: Array<{ name: string; rules: Rule[] }> }

const rules = readYaml<Groups>('deploy/prometheus/rules/outbound-alerts.yml');
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/outbound-overview.json'), 'utf8')) as {
  uid: string;
  panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string; datasource: { uid: string } }> }>;
};

test('the PrometheusRule is the rule file (regenerate with node deploy/scripts/sync-prometheus-rule.js)', () => {
  const rule = readYaml<{ kind: string; spec: Groups }>('deploy/k8s/base/prometheus-rule.yaml');
  expect(rule.kind).toBe('PrometheusRule');
  expect(rule.spec.groups).toEqual(rules.groups);
});

test('the alert rules cover the thresholds the issue names', () => {
  const byName = new Map(rules.groups.flatMap((g) => g.rules).map((r) => [r.alert, r]));
  expect(byName.get('OutboundPendingHigh')?.expr).toMatch(/state="pending".*> 1000$/);
  expect(byName.get('OutboundDeadLettersHigh')?.expr).toMatch(/state="dead".*> 100$/);
  expect(byName.get('OutboundNoIngressAlive')?.expr).toBe('absent(up{job="outbound-ingress"} == 1)');
  expect(byName.get('OutboundEnqueueToAckP99High')?.expr).toMatch(/histogram_quantile\(0\.99, .*outbound_dispatcher_enqueue_to_ack_seconds_bucket/);
  expect(byName.get('RedisMemoryNearMax')?.expr).toMatch(/redis_memory_used_bytes \/ redis_memory_max_bytes > 0\.9/);
  expect(byName.get('OutboundStoreNearlyFull')?.expr).toMatch(/outbound_dispatcher_store_memory_ratio/);
  expect(byName.get('OutboundDispatcherStoreErrors')?.expr).toMatch(/sum by \(backend, kind\) \(rate\(outbound_dispatcher_store_errors_total/);
  for (const rule of byName.values()) expect(['warning', 'critical']).toContain(rule.labels?.severity);
});

test('the dashboard queries the provisioned Prometheus data source and shows what the issue lists', () => {
  const provisioned = readYaml<{ datasources: Array<{ uid: string; url: string }> }>('deploy/grafana/provisioning/datasources/prometheus.yml');
  const uid = provisioned.datasources[0]!.uid;
  for (const panel of dashboard.panels) {
    expect(panel.datasource.uid).toBe(uid);
    expect(panel.targets.length).toBeGreaterThan(0);
    for (const target of panel.targets) expect(target.datasource.uid).toBe(uid);
  }
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
  expect(exprs).toMatch(/outbound_dispatcher_queue_depth/);
  expect(exprs).toMatch(/outbound_dispatcher_delivered_total/);
  expect(exprs).toMatch(/histogram_quantile\(0\.99, .*enqueue_to_ack_seconds_bucket/);
  expect(exprs).toMatch(/outbound_ingress_connected_devices/);
  expect(exprs).toMatch(/errors_total/);
});
