import { ConfigError } from '@outbound/core';
import { idleTimeoutMs, loadIngressConfig } from '@outbound/ingress';

describe('ingress configuration', () => {
  const s1 = 'fleet-secret-one-0123456789abcdef';
  const s2 = 'fleet-secret-two-0123456789abcdef';
  const token = 'internal-token-0123456789';
  const valid = { INTERNAL_TOKEN: token, DEVICE_AUTH_SECRETS: `${s1}, ${s2}` };

  it('reads the documented environment names and fills the defaults', () => {
    const { config, redacted } = loadIngressConfig({ env: { ...valid, INGRESS_TCP_PORT: '7100', INGRESS_HEARTBEAT_SECONDS: '20', REDIS_URL: 'redis://example:6380' } });
    expect(config.tcp.port).toBe(7100);
    expect(config.http.port).toBe(8081);
    expect(config.auth).toEqual({ mode: 'hmac', secrets: [s1, s2], legacyTokenAuth: false });
    expect(loadIngressConfig({ env: { ...valid, INGRESS_LEGACY_TOKEN_AUTH: 'true' } }).config.auth.legacyTokenAuth).toBe(true);
    expect(idleTimeoutMs(config)).toBe(50_000);
    expect(config.replicaId).toMatch(/-\d+$/);
    expect(JSON.stringify(redacted)).not.toContain(s1);
    expect(JSON.stringify(redacted)).not.toContain(token);
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
    expect(loadIngressConfig({ env: { INTERNAL_TOKEN: token, DEVICE_AUTH_MODE: 'none' } }).config.auth.mode).toBe('none');
    expect(() => loadIngressConfig({ env: { INTERNAL_TOKEN: token } })).toThrow(/DEVICE_AUTH_SECRETS/);
  });

  it('refuses to start with an internal token under 16 characters, naming the key and never the value', () => {
    const problems = problemsOf({ ...valid, INTERNAL_TOKEN: 'x' });
    expect(problems).toEqual(['internalToken: INTERNAL_TOKEN must be at least 16 characters (it has 1); generate one with: openssl rand -hex 16']);
    expect(() => loadIngressConfig({ env: { ...valid, INTERNAL_TOKEN: 'a'.repeat(16) } })).not.toThrow();
  });

  it('refuses a device secret under 32 bytes, naming which entry of a rotation is short', () => {
    const short = 'only-thirty-one-bytes-long-0123';
    expect(Buffer.byteLength(short)).toBe(31);
    const problems = problemsOf({ ...valid, DEVICE_AUTH_SECRETS: `${s1},${short}` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^auth\.secrets: DEVICE_AUTH_SECRETS entry 2 must be at least 32 bytes \(it has 31\)/);
    expect(problems[0]).not.toContain(short);
    // 32 bytes counted as UTF-8: 16 two-byte characters pass.
    expect(() => loadIngressConfig({ env: { ...valid, DEVICE_AUTH_SECRETS: 'é'.repeat(16) } })).not.toThrow();
  });
});

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadIngressConfig({ env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
