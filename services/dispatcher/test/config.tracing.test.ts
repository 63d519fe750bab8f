import { ConfigError, tracesUrl, tracingEnabled } from '@outbound/core';
import { loadDispatcherConfig } from '../src';

const token = 'internal-token-0123456789';
const tracing = (env: NodeJS.ProcessEnv) => loadDispatcherConfig({ env: { INTERNAL_TOKEN: token, ...env } }).config.tracing;
const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    tracing(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('tracing configuration (the standard OTEL_* variables)', () => {
  it('is off unless an exporter or an endpoint is set, and OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none turns it off', () => {
    expect(tracingEnabled(tracing({}))).toBe(false);
    expect(tracingEnabled(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }))).toBe(true);
    expect(tracingEnabled(tracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }))).toBe(true);
    expect(tracingEnabled(tracing({ OTEL_TRACES_EXPORTER: 'otlp' }))).toBe(true);
    expect(tracingEnabled(tracing({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }))).toBe(false);
    expect(tracingEnabled(tracing({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }))).toBe(false);
  });

  it('sends spans to <endpoint>/v1/traces, or to the traces endpoint as given', () => {
    expect(tracesUrl(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }))).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' }))).toBe('https://b/otlp/traces');
    expect(tracesUrl(tracing({ OTEL_TRACES_EXPORTER: 'otlp' }))).toBe('http://localhost:4318/v1/traces');
    expect(tracing({ OTEL_SERVICE_NAME: 'api-eu', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toMatchObject({ serviceName: 'api-eu', protocol: 'http/json' });
  });

  it('refuses gRPC, an unknown exporter and an endpoint that is not an http(s) URL, naming the setting', () => {
    expect(problems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).join('\n')).toMatch(/tracing\.protocol/);
    expect(problems({ OTEL_TRACES_EXPORTER: 'zipkin' }).join('\n')).toMatch(/tracing\.exporter/);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual([
      'tracing.endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) must be an http:// or https:// URL (got "collector:4318")',
    ]);
  });
});
