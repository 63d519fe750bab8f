import { ConfigError, loadConfig, redisConfigSchema } from '@outbound/core';

describe('loadConfig', () => {
  it('reads environment names and redacts sensitive values', () => {
    const { config, redacted } = loadConfig({ redis: redisConfigSchema }, {
      env: { REDIS_URL: 'redis://:hunter2@10.1.2.3:6380/2', REDIS_CLUSTER_NODES: 'a:1, b:2' },
    });
    expect(config.redis.url).toBe('redis://:hunter2@10.1.2.3:6380/2');
    expect(config.redis.clusterNodes).toEqual(['a:1', 'b:2']);
    expect(JSON.stringify(redacted)).not.toContain('hunter2');
    expect(Object.isFrozen(config.redis)).toBe(true);
  });

  it('stops with one line per invalid key naming the value and what was expected', () => {
    let error: unknown;
    try {
      loadConfig({ redis: redisConfigSchema }, { env: { REDIS_MODE: 'galaxy', REDIS_DB: '-4' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.includes('redis.mode'))).toContain('galaxy');
    expect(problems.find((p) => p.includes('redis.db'))).toBeDefined();
  });
});
