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
interface Target { expr: string; datasource: { uid: string } }
interface Panel { type: string; title: string; datasource?: { uid: string }; targets?: Target[] }
interface Variable { name: string; type: string; query: unknown; includeAll?: boolean; allValue?: string; current?: { value: unknown }; datasource?: { uid: string } }
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/outbound-overview.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

test('the PrometheusRule is the rule file (regenerate with node deploy/scripts/sync-prometheus-rule.js)', () => {
  const rule = readYaml<{ kind: string; spec: Groups }>('deploy/k8s/base/prometheus-rule.yaml');
  expect(rule.kind).toBe('PrometheusRule');
  expect(rule.spec.groups).toEqual(rules.groups);
});

test('the alert rules cover the operating thresholds', () => {
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

test('the dashboard has datasource, namespace and instance variables; every panel and query uses them', () => {
  const provisioned = readYaml<{ datasources: Array<{ uid: string; url: string }> }>('deploy/grafana/provisioning/datasources/prometheus.yml');
  const byName = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  expect([...byName.keys()]).toEqual(['datasource', 'namespace', 'instance']);
  expect(byName.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus', current: { value: provisioned.datasources[0]!.uid } });
  for (const name of ['namespace', 'instance']) {
    // "All" must match series without the label too (the compose stack has no namespace).
    expect(byName.get(name)).toMatchObject({ type: 'query', includeAll: true, allValue: '.*', datasource: { uid: '${datasource}' } });
  }
  expect(JSON.stringify(byName.get('instance')!.query)).toContain('namespace=~\\"$namespace\\"');
  for (const panel of queryPanels) {
    expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({ panel: panel.title, uid: '${datasource}' });
    expect(panel.targets?.length).toBeGreaterThan(0);
    for (const target of panel.targets!) {
      expect({ panel: panel.title, uid: target.datasource.uid }).toEqual({ panel: panel.title, uid: '${datasource}' });
      // Every series selector (metric{...}) filters on both variables, and no metric is selected bare.
      const selectors = [...target.expr.matchAll(/\b([a-z_][a-z0-9_]*)(\{[^}]*\})?(?=[\s[)/,]|$)/g)]
        .filter((m) => /^(outbound|redis|pg|nodejs|process|up$)/.test(m[1]!));
      expect(selectors.length).toBeGreaterThan(0);
      for (const [whole, name, matchers] of selectors) {
        expect({ panel: panel.title, selector: whole, ok: Boolean(matchers?.includes('namespace=~"$namespace"') && matchers.includes('instance=~"$instance"')) })
          .toEqual({ panel: panel.title, selector: whole, ok: true });
        expect(name).toBeDefined();
      }
    }
  }
});

test('the dashboard is grouped in rows, one per concern, and shows what an operator needs', () => {
  expect(dashboard.panels[0]!.type).toBe('row');
  const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
  expect(rows).toEqual(['Overview', 'API (HTTP, both services)', 'Queue and delivery (dispatcher)', 'Ingress and devices', 'Stores: Redis and PostgreSQL', 'Processes', 'Events and webhooks']);
  const exprs = queryPanels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
  expect(exprs).toMatch(/outbound_dispatcher_queue_depth/);
  expect(exprs).toMatch(/outbound_dispatcher_delivered_total/);
  expect(exprs).toMatch(/histogram_quantile\(0\.99, .*enqueue_to_ack_seconds_bucket/);
  expect(exprs).toMatch(/outbound_ingress_connected_devices/);
  expect(exprs).toMatch(/outbound_http_requests_total/);
  expect(exprs).toMatch(/outbound_build_info/);
  expect(exprs).toMatch(/nodejs_eventloop_lag_p99_seconds/);
  expect(exprs).toMatch(/\bpg_up\b/);
  expect(exprs).toMatch(/errors_total/);
});
