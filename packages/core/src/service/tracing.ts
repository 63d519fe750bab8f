import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapPropagator, type TimeInput, type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';
import type convict from 'convict';
import type { RequestHandler, Response } from 'express';
import { routeOf } from './request-observer';

/**
 * The standard OpenTelemetry variables this project reads itself (the SDK reads the rest, e.g.
 * OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_RESOURCE_ATTRIBUTES).
 */
export interface TracingConfig {
  /** OTEL_SDK_DISABLED: true turns tracing off whatever else is set. */
  sdkDisabled: boolean;
  /** OTEL_TRACES_EXPORTER: `otlp` on, `none` off; unset, tracing is on when an OTLP endpoint is set. */
  exporter: '' | 'none' | 'otlp';
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full URL for spans (wins over `endpoint`). */
  tracesEndpoint: string;
  /** OTEL_EXPORTER_OTLP_PROTOCOL: `http/protobuf` (default) or `http/json`. */
  protocol: '' | 'http/protobuf' | 'http/json';
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: as `protocol`, for spans only (wins). */
  tracesProtocol: '' | 'http/protobuf' | 'http/json';
  /** OTEL_SERVICE_NAME: default `outbound-<service>`. */
  serviceName: string;
}

const PROTOCOLS = ['', 'http/protobuf', 'http/json'];

/** Shared by both services, so the environment names are the same everywhere. */
export const tracingSchema: convict.Schema<TracingConfig> = {
  sdkDisabled: { doc: 'true turns tracing off', format: Boolean, default: false, env: 'OTEL_SDK_DISABLED' },
  exporter: { doc: 'otlp (on) or none (off); unset: on when an OTLP endpoint is set', format: ['', 'none', 'otlp'], default: '', env: 'OTEL_TRACES_EXPORTER' },
  endpoint: { doc: 'OTLP/HTTP collector base URL (spans go to <url>/v1/traces)', format: String, default: '', env: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
  tracesEndpoint: { doc: 'OTLP/HTTP URL for spans (wins over OTEL_EXPORTER_OTLP_ENDPOINT)', format: String, default: '', env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' },
  protocol: { doc: 'http/protobuf (default) or http/json; grpc is not supported', format: PROTOCOLS, default: '', env: 'OTEL_EXPORTER_OTLP_PROTOCOL' },
  tracesProtocol: { doc: 'as OTEL_EXPORTER_OTLP_PROTOCOL, for spans only', format: PROTOCOLS, default: '', env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' },
  serviceName: { doc: 'service.name of this process\'s spans (default outbound-<service>)', format: String, default: '', env: 'OTEL_SERVICE_NAME' },
};

/** Problems with a tracing config, for the services' config checks (empty when fine). */
export function tracingProblems(config: TracingConfig): string[] {
  const problems: string[] = [];
  for (const [key, env, value] of [['tracing.endpoint', 'OTEL_EXPORTER_OTLP_ENDPOINT', config.endpoint], ['tracing.tracesEndpoint', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', config.tracesEndpoint]] as const) {
    if (value && !/^https?:\/\//.test(value)) problems.push(`${key} (${env}) must be an http:// or https:// URL (got ${JSON.stringify(value)})`);
  }
  return problems;
}

/** True when this config turns tracing on. */
export function tracingEnabled(config: TracingConfig): boolean {
  if (config.sdkDisabled || config.exporter === 'none') return false;
  return config.exporter === 'otlp' || config.endpoint !== '' || config.tracesEndpoint !== '';
}

/** Where spans are sent: the traces URL as given, else `<endpoint>/v1/traces`, else the OTLP/HTTP default. */
export function tracesUrl(config: TracingConfig): string {
  if (config.tracesEndpoint) return config.tracesEndpoint;
  if (config.endpoint) return `${config.endpoint.replace(/\/+$/, '')}/v1/traces`;
  return 'http://localhost:4318/v1/traces';
}

/** The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`), for log lines. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}

/** Where a span hangs: a W3C traceparent (stored with a command, sent on the internal hop) or a span of this process. */
export type SpanParent = string | Span;

export interface StartSpanOptions {
  /** None: a new trace. */
  parent?: SpanParent;
  kind?: SpanKind;
  attributes?: Attributes;
  startTime?: TimeInput;
}

interface Provider {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * One service's tracer. Off (`Tracing.off`), every method answers undefined at once and no SDK
 * module is loaded, so call sites cost one property check. On, it has its own provider and
 * resource (two services in one process, as the end-to-end tests run them, keep their own
 * `service.name`), registers nothing globally, and takes parents explicitly: no async-context
 * tracking runs on any code path.
 */
export class Tracing {
  static readonly off = new Tracing(null, null, null);

  private constructor(
    private readonly tracer: Tracer | null,
    private readonly propagator: TextMapPropagator | null,
    private readonly provider: Provider | null,
  ) {}

  /**
   * Tracing for `service` as `config` says: `Tracing.off` when it is off. The exporter sends
   * OTLP over HTTP in batches (the SDK's BatchSpanProcessor, tuned by OTEL_BSP_*).
   */
  static async create(config: TracingConfig, service: { name: string; version: string }): Promise<Tracing> {
    if (!tracingEnabled(config)) return Tracing.off;
    // Loaded only when on: nothing of the SDK is in memory of a process that does not trace.
    const [{ BasicTracerProvider, BatchSpanProcessor }, { W3CTraceContextPropagator }, resources] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
    const protocol = config.tracesProtocol || config.protocol || 'http/protobuf';
    const { OTLPTraceExporter } = protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
    const resource = resources
      .detectResources({ detectors: [resources.envDetector] })
      .merge(resources.resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName || `outbound-${service.name}`, [ATTR_SERVICE_VERSION]: service.version }));
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(config) }))] });
    return new Tracing(provider.getTracer('outbound', service.version), new W3CTraceContextPropagator(), provider);
  }

  get enabled(): boolean {
    return this.tracer !== null;
  }

  /** A started span (end it), or undefined when tracing is off. A traceparent that does not parse starts a new trace. */
  startSpan(name: string, options: StartSpanOptions = {}): Span | undefined {
    if (!this.tracer) return undefined;
    const { parent, ...rest } = options;
    return this.tracer.startSpan(name, rest, parent === undefined ? ROOT_CONTEXT : this.contextOf(parent));
  }

  /** The W3C traceparent naming `span` as a parent (to store with a command, or send on a hop). */
  traceparentOf(span: Span): string | undefined {
    if (!this.propagator) return undefined;
    const carrier: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => { c[k] = v; } });
    return carrier.traceparent;
  }

  /** Sends the spans still buffered. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /** Sends the spans still buffered and stops the exporter (last step of a service's stop). */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }

  private contextOf(parent: SpanParent): Context {
    if (typeof parent !== 'string') return trace.setSpan(ROOT_CONTEXT, parent);
    return this.propagator!.extract(ROOT_CONTEXT, { traceparent: parent }, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
  }
}

const REQUEST_SPAN = Symbol('outbound.requestSpan');

/** The server span of this request (tracedRequests), if any. */
export function requestSpan(res: Response): Span | undefined {
  return (res.locals as Record<symbol, Span | undefined>)[REQUEST_SPAN];
}

/**
 * One SERVER span per request, continuing the caller's trace when it sent a `traceparent`
 * header, named by the route pattern (`POST /v1/commands`) and carrying the request id, so a
 * request id leads to its trace. Mount it only when tracing is on.
 */
export function tracedRequests(tracing: Tracing): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.traceparent;
    const span = tracing.startSpan(`${req.method}`, { kind: SpanKind.SERVER, ...(typeof header === 'string' ? { parent: header } : {}) });
    if (!span) return next();
    (res.locals as Record<symbol, Span>)[REQUEST_SPAN] = span;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      const route = routeOf(req);
      const status = res.writableFinished ? res.statusCode : 499;
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({
        [ATTR_HTTP_REQUEST_METHOD]: req.method,
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
        'outbound.request_id': String(res.getHeader('X-Request-Id') ?? ''),
      });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    next();
  };
}

export { SpanKind, SpanStatusCode, type Span };
