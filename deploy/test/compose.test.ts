import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { readYaml, ROOT } from './deploy-files';

/**
 * docker-compose.yml against the Compose Specification JSON schema (the copy dclint ships,
 * draft-07; anchors and `<<` merges resolved as docker compose does), then what the stack
 * must contain. deploy/check.sh also runs dclint itself on the file.
 */
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target: string };
  command?: string[];
  ports?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  healthcheck?: object;
  depends_on?: Record<string, { condition: string }> | string[];
}
const compose = readYaml<{ services: Record<string, Service>; volumes: Record<string, unknown> }>('docker-compose.yml');
// The schema names its draft as https://json-schema.org/draft-07/schema, which ajv's bundled
// draft-07 meta-schema (http://...#) does not match; the draft is right, so the tag is dropped.
const { $schema: _draft, ...schema } = JSON.parse(readFileSync(join(ROOT, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false, validateFormats: false }).compile(schema);

test('docker-compose.yml is valid against the Compose Specification schema', () => {
  const valid = validate(compose);
  expect(validate.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
});

test('the schema check rejects misspelt keys (so a pass means something)', () => {
  const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
  broken.services['ingress-1']!.stop_grace_periodd = '45s';
  broken.services.redis!.healthcheck = { test: ['CMD', 'redis-cli', 'ping'], intervall: '5s' };
  expect(validate(broken)).toBe(false);
  const paths = (validate.errors ?? []).map((e) => e.instancePath);
  expect(paths).toEqual(expect.arrayContaining(['/services/ingress-1', '/services/redis/healthcheck']));
});

test('Redis runs with AOF (everysec), maxmemory, noeviction and a password', () => {
  const command = compose.services.redis!.command!.join(' ');
  expect(command).toMatch(/--appendonly yes/);
  expect(command).toMatch(/--appendfsync everysec/);
  expect(command).toMatch(/--maxmemory \d+[kmg]b/);
  expect(command).toMatch(/--maxmemory-policy noeviction/);
  expect(command).toMatch(/--requirepass \$\{REDIS_PASSWORD/);
  expect(compose.services.redis!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/:\/data$/)]));
});

test('two ingress replicas publish the device port; two dispatchers; simulator, PostgreSQL, Prometheus, Grafana', () => {
  const names = Object.keys(compose.services);
  expect(names).toEqual(expect.arrayContaining(['redis', 'postgres', 'ingress-1', 'ingress-2', 'dispatcher-1', 'dispatcher-2', 'prometheus', 'grafana', 'redis-exporter']));
  expect(names.some((n) => n.startsWith('simulator'))).toBe(true);
  for (const name of ['ingress-1', 'ingress-2', 'dispatcher-1', 'dispatcher-2']) {
    const service = compose.services[name]!;
    expect(service.build).toEqual({ context: '.', dockerfile: 'deploy/docker/Dockerfile', target: name.replace(/-\d$/, '') });
    expect(service.ports?.length).toBe(1);
    expect((service.depends_on as Record<string, { condition: string }>).redis).toEqual({ condition: 'service_healthy' });
  }
  const published = ['ingress-1', 'ingress-2'].map((n) => compose.services[n]!.ports![0]!.split(':').slice(0, -1).join(':'));
  expect(new Set(published).size).toBe(2);
});

test('every file the stack mounts exists in the repository', () => {
  for (const [name, service] of Object.entries(compose.services)) {
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (!source.startsWith('./')) {
        expect({ name, volume: source in compose.volumes }).toEqual({ name, volume: true });
        continue;
      }
      expect({ name, source, exists: existsSync(join(ROOT, source)) }).toEqual({ name, source, exists: true });
    }
  }
  const grafana = compose.services.grafana!.volumes!.join(' ');
  expect(grafana).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning');
  expect(grafana).toContain('./deploy/grafana/dashboards:/var/lib/grafana/dashboards');
});
