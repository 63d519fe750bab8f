/**
 * The public API's OpenAPI 3.1 document, served at /openapi.json, generated from the zod
 * schemas the routes validate with. Each route module's schemas (src/schemas/*.ts) export the
 * module's operations as RouteDocs; a new route module adds its docs to ROUTE_DOCS below. A test
 * walks the express router and this document both ways, so a route cannot go undocumented.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { adminRouteDocs } from './schemas/admin';
import type { ApiLimits, RouteDoc } from './schemas/common';
import { commandRouteDocs } from './schemas/commands';
import { credentialRouteDocs } from './schemas/credentials';
import { eventRouteDocs, webhookRouteDocs } from './schemas/events';
import { serviceRouteDocs } from './schemas/service';

const ROUTE_DOCS: Array<(limits: ApiLimits) => RouteDoc[]> = [commandRouteDocs, eventRouteDocs, adminRouteDocs, credentialRouteDocs, webhookRouteDocs, serviceRouteDocs];

/** The limits of a dispatcher started with the default configuration. */
export const DEFAULT_API_LIMITS: ApiLimits = { maxWaitMs: 60_000, batchMax: 1_000 };

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** The document for a dispatcher with these limits (the bounds it states are the ones the routes enforce). */
export function buildOpenApiDocument(limits: ApiLimits = DEFAULT_API_LIMITS): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http', scheme: 'bearer',
    description: 'An API key from API_KEYS. The role a route needs (`send` or `admin`) is named in its security requirement; an `admin` key may call `send` routes too.',
  });
  for (const docs of ROUTE_DOCS) for (const route of docs(limits)) registry.registerPath(route);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Outbound dispatcher API',
      version: '1.0.0',
      description: 'Queue commands for TCP-connected devices and follow them to a terminal state. Keys: `send` role for commands, their timelines and the live event stream, `admin` for devices, device credentials, stats, dead letters and webhooks.',
    },
    servers: [
      { url: '/', description: 'the dispatcher serving this document (paths are relative to its origin)' },
    ],
    security: [{ apiKey: [] }],
  });
}

/** The document of a dispatcher with the default limits (the client's types are generated from it). */
export const openApiDocument = buildOpenApiDocument();
