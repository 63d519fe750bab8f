import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** The handlers of one POST route, keyed by its exact path (`/v1/commands`). */
export type HotRoutes = Map<string, RequestHandler[]>;

/**
 * Serves the busiest POST routes (the enqueues) without walking the router: the router tests
 * every layer mounted before them (OpenAPI, health, console, each /v1 middleware) against the
 * path, trims and restores the URL around each mounted one, and wraps every call, which cost
 * more per enqueue than the route itself. Mounted after the request observer, it runs the same
 * /v1 middleware (`prefix`) and then the route's own handlers, in the router's order, with the
 * router's error handling: an error or a rejected promise goes to the app's error handler; the
 * route pattern is set only once the /v1 middleware has passed (so a 401 is still `unmatched`).
 * Any other method or spelling of the path (a trailing slash, other letter case) goes on to the
 * router, which answers it as before.
 */
export function hotRoutes(prefix: RequestHandler[], routes: HotRoutes): RequestHandler {
  return (req, res, next) => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    const url = req.url;
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const handlers = routes.get(path);
    if (!handlers) {
      next();
      return;
    }
    runChain(req, res, next, prefix, handlers, path);
  };
}

function runChain(req: Request, res: Response, done: NextFunction, prefix: RequestHandler[], handlers: RequestHandler[], path: string): void {
  let index = 0;
  const step = (error?: unknown): void => {
    if (error !== undefined && error !== null) {
      done(error);
      return;
    }
    let handler: RequestHandler | undefined;
    if (index < prefix.length) handler = prefix[index];
    else {
      // As the router does on a route match: the pattern names the request in logs and metrics.
      if (index === prefix.length) (req as Request & { route: { path: string } }).route = { path };
      handler = handlers[index - prefix.length];
    }
    index += 1;
    if (!handler) {
      done();
      return;
    }
    try {
      const returned = handler(req, res, step) as unknown;
      if (returned instanceof Promise) returned.then(undefined, (rejection: unknown) => done(rejection ?? new Error('Rejected promise')));
    } catch (thrown) {
      done(thrown);
    }
  };
  step();
}
