/** The unauthenticated routes: this document, liveness, readiness, health and metrics. */
import { z } from 'zod';
import { json, SECURITY, type RouteDoc } from './common';

const checkSchema = z.looseObject({ status: z.enum(['ok', 'degraded', 'down']), latencyMs: z.number().nullable().optional() });
const readinessSchema = z.object({ status: z.enum(['ready', 'not_ready']), down: z.array(z.string()).optional(), degraded: z.array(z.string()).optional() }).meta({ id: 'Readiness' });
const healthSchema = z.object({ status: z.enum(['ok', 'degraded', 'down']), ready: z.boolean(), checks: z.record(z.string(), checkSchema) }).meta({ id: 'Health' });

export function serviceRouteDocs(): RouteDoc[] {
  const text = (description: string) => ({ description, content: { 'text/plain': { schema: z.string() } } });
  return [
    { method: 'get', path: '/openapi.json', operationId: 'getOpenApi', summary: 'This document', security: SECURITY.none, responses: { 200: json(z.looseObject({ openapi: z.string() }), 'OpenAPI 3.1') } },
    { method: 'get', path: '/healthz', operationId: 'getLiveness', summary: 'Alive', security: SECURITY.none, responses: { 200: json(z.object({ status: z.literal('ok') }), 'alive') } },
    {
      method: 'get', path: '/readyz', operationId: 'getReadiness', summary: 'Ready for traffic', security: SECURITY.none,
      responses: { 200: json(readinessSchema, 'ready'), 503: json(readinessSchema, 'starting, draining or a dependency is down') },
    },
    {
      method: 'get', path: '/health', operationId: 'getHealth', summary: "Each dependency's status and latency", security: SECURITY.none,
      responses: { 200: json(healthSchema, 'ok or degraded'), 503: json(healthSchema, 'a dependency is down') },
    },
    { method: 'get', path: '/metrics', operationId: 'getMetrics', summary: 'Prometheus metrics', security: SECURITY.none, responses: { 200: text('text exposition format') } },
  ];
}
