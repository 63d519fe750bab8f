import { createServer, type RequestListener, type Server } from 'node:http';
import type convict from 'convict';
import type { Response } from 'express';

/** Limits on an HTTP server's connections, so slow or idle clients cannot hold it open. */
export interface HttpServerLimits {
  /** The request line and headers must arrive within this long (408 and close otherwise). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this long (408 and close otherwise). */
  requestTimeoutMs: number;
  /** Connections held at once; the server closes any connection accepted beyond. */
  maxConnections: number;
}

/**
 * The convict fragment for HttpServerLimits; `envPrefix` is DISPATCHER_HTTP or INGRESS_HTTP.
 * `maxConnections` defaults per service (the dispatcher faces callers, ingress only dispatchers).
 */
export function httpServerLimitsSchema(envPrefix: string, defaultMaxConnections: number): convict.Schema<HttpServerLimits> {
  return {
    headersTimeoutMs: { doc: 'request line and headers must arrive within this long (408 and close)', format: 'nat', default: 10_000, env: `${envPrefix}_HEADERS_TIMEOUT_MS` },
    requestTimeoutMs: { doc: 'the whole request, body included, must arrive within this long (408 and close)', format: 'nat', default: 30_000, env: `${envPrefix}_REQUEST_TIMEOUT_MS` },
    maxConnections: { doc: 'HTTP connections held at once; more are closed on accept', format: 'nat', default: defaultMaxConnections, env: `${envPrefix}_MAX_CONNECTIONS` },
  };
}

/** One line per problem with the limits (`path` is the config path, e.g. http). */
export function httpServerLimitsProblems(path: string, limits: HttpServerLimits): string[] {
  const problems: string[] = [];
  if (limits.headersTimeoutMs < 1) problems.push(`${path}.headersTimeoutMs: must be at least 1`);
  if (limits.requestTimeoutMs < limits.headersTimeoutMs) {
    problems.push(`${path}.requestTimeoutMs: must be at least ${path}.headersTimeoutMs (${limits.headersTimeoutMs}): value was ${limits.requestTimeoutMs}`);
  }
  if (limits.maxConnections < 1) problems.push(`${path}.maxConnections: must be at least 1`);
  return problems;
}

/**
 * An HTTP server with the limits applied. Node checks the two timeouts on a timer
 * (`connectionsCheckingInterval`, 30 s by default, which would let a dribbling client
 * outlive a short timeout by that much): it runs at a quarter of the shorter timeout, at
 * most every second. Nagle's algorithm is off unless asked for (`noDelay: false`), as on
 * Node's own servers: with it on, a small write that follows another (an event stream's next
 * line, a long poll's answer) waits for the caller's delayed ACK of the first, up to 40 ms.
 */
export function createLimitedServer(app: RequestListener, limits: HttpServerLimits, options: { noDelay?: boolean } = {}): Server {
  const server = createServer({
    noDelay: options.noDelay ?? true,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
  }, app);
  server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * Marks an answer given before the request body was read (401, 403, 429) to close the
 * connection: otherwise Node would read and discard the unread body to keep the connection
 * alive, which is exactly the work a refused caller must not get.
 */
export function closeIfBodyUnread(req: { headers: Record<string, string | string[] | undefined> }, res: Response): void {
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) res.set('Connection', 'close');
}

