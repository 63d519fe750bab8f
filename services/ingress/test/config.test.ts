import { ConfigError } from '@outbound/core';
import { idleTimeoutMs, loadIngressConfig } from '@outbound/ingress';

describe('ingress configuration', () => {
  const valid = { INTERNAL_TOKEN: 't', DEVICE_AUTH_SECRETS: 's1, s2' };

  it('reads the documented environment names and fills the defaults', () => {
    const { config, redacted } = loadIngressConfig({ env: { ...valid, INGRESS_TCP_PORT: '7100', INGRESS_HEARTBEAT_SECONDS: '20', REDIS_URL: 'redis://example:6380' } });
    expect(config.tcp.port).toBe(7100);
    expect(config.http.port).toBe(8081);
    expect(config.auth).toEqual({ mode: 'hmac', secrets: ['s1', 's2'], legacyTokenAuth: false });
    expect(loadIngressConfig({ env: { ...valid, INGRESS_LEGACY_TOKEN_AUTH: 'true' } }).config.auth.legacyTokenAuth).toBe(true);
    expect(idleTimeoutMs(config)).toBe(50_000);
    expect(config.replicaId).toMatch(/-\d+$/);
    expect(JSON.stringify(redacted)).not.toContain('s1');
    expect(JSON.stringify(redacted)).not.toContain('redis://example');
  });

  it('stops with one line per problem', () => {
    let error: unknown;
    try {
      loadIngressConfig({ env: { INGRESS_TCP_PORT: 'seventy', INGRESS_TLS_CERT_FILE: '/x.pem' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/tcp\.port/);
    const second = (() => {
      try {
        loadIngressConfig({ env: { INGRESS_TLS_CERT_FILE: '/x.pem', DEVICE_AUTH_MODE: 'hmac' } });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    })();
    expect(second).toEqual(expect.arrayContaining([
      expect.stringMatching(/INTERNAL_TOKEN/),
      expect.stringMatching(/DEVICE_AUTH_SECRETS/),
      expect.stringMatching(/INGRESS_TLS_KEY_FILE/),
    ]));
  });

  it('allows auth mode none only when set explicitly', () => {
    expect(loadIngressConfig({ env: { INTERNAL_TOKEN: 't', DEVICE_AUTH_MODE: 'none' } }).config.auth.mode).toBe('none');
    expect(() => loadIngressConfig({ env: { INTERNAL_TOKEN: 't' } })).toThrow(/DEVICE_AUTH_SECRETS/);
  });
});
