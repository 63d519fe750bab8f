import convict from 'convict';

/** Thrown when configuration is invalid: the message has one line per problem. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

convict.addFormat({
  name: 'string-list',
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error('must be a comma-separated list');
  },
  coerce: (value: unknown) =>
    typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s.length > 0) : value,
});

convict.addFormat({
  name: 'url',
  validate(value: unknown) {
    if (typeof value !== 'string') throw new Error('must be a URL');
    try {
      new URL(value);
    } catch {
      throw new Error('must be a URL');
    }
  },
});

/**
 * Loads a convict schema: defaults, then the optional JSON file named by `configFileEnv`
 * (e.g. DISPATCHER_CONFIG_FILE), then environment variables, then `overrides` (tests).
 * Validates strictly (unknown keys in the file are errors) and answers a frozen plain object.
 */
export function loadConfig<T>(
  schema: convict.Schema<T>,
  options: { env?: NodeJS.ProcessEnv; configFileEnv?: string; overrides?: Partial<Record<string, unknown>> } = {},
): { config: Readonly<T>; redacted: Record<string, unknown> } {
  const env = options.env ?? process.env;
  const loader = convict(schema, { env: env as Record<string, string>, args: [] });
  const file = options.configFileEnv ? env[options.configFileEnv] : undefined;
  try {
    if (file) loader.loadFile(file);
    if (options.overrides) loader.load(options.overrides as never);
    loader.validate({ allowed: 'strict' });
  } catch (error) {
    const lines = (error as Error).message.split('\n').map((l) => l.trim()).filter(Boolean);
    throw new ConfigError(lines);
  }
  const config = deepFreeze(loader.getProperties()) as Readonly<T>;
  // convict's toString() replaces every `sensitive: true` value with [Sensitive].
  const redacted = JSON.parse(loader.toString()) as Record<string, unknown>;
  return { config, redacted };
}

function deepFreeze<V>(value: V): V {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value as object)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
