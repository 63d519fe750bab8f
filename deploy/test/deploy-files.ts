import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

/** The repository root (deploy/test/..). */
export const ROOT = join(__dirname, '..', '..');

/** A Kubernetes object as rendered by kustomize. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Parses a YAML file of the repository; `<<` merge keys are resolved (docker compose does). */
export function readYaml<T = unknown>(relativePath: string): T {
  return YAML.parse(readFileSync(join(ROOT, relativePath), 'utf8'), { merge: true }) as T;
}

let kubectlPath: string | undefined;

/** A kubectl with kustomize v5: from PATH, or fetched once by deploy/scripts/ensure-kubectl.sh. */
export function kubectl(): string {
  kubectlPath ??= execFileSync('bash', [join(ROOT, 'deploy/scripts/ensure-kubectl.sh')], { encoding: 'utf8' }).trim();
  return kubectlPath;
}

/** `kubectl kustomize <dir>`, parsed into objects. */
export function renderKustomize(relativeDir: string): K8sObject[] {
  const out = execFileSync(kubectl(), ['kustomize', join(ROOT, relativeDir)], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return YAML.parseAllDocuments(out)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((obj): obj is K8sObject => obj !== null);
}

/** Every environment variable name a convict schema reads, with the default it falls back to. */
export function convictEnv(schema: object): Map<string, unknown> {
  const names = new Map<string, unknown>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const entry = node as { env?: unknown; default?: unknown };
    if (typeof entry.env === 'string' && 'default' in entry) {
      names.set(entry.env, entry.default);
      return;
    }
    for (const child of Object.values(node)) walk(child);
  };
  walk(schema);
  return names;
}

/** Expands docker compose's `${NAME:-default}` and `${NAME}` the way compose does with NAME unset. */
export function composeInterpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name: string, fallback?: string) => fallback ?? '');
}
