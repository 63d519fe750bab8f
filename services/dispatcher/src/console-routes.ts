import express, { type Express } from 'express';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** Where `npm run build` puts the console bundle; the same path from src/ (ts-jest) and dist/ (node). */
export const CONSOLE_DIR = path.join(__dirname, '..', 'dist', 'console');

// The page loads its own script and stylesheet and calls this origin's API: nothing else.
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The operator console under /console: hashed assets (cached for good) and, for every other
 * path under /console, index.html (never cached), so a reload on a client-side route works.
 * A missing asset answers 404 (not the page). It needs no key: the page asks for the admin API key and sends it with each API call.
 * When the bundle was not built, /console answers 404 like any unknown path.
 */
export function registerConsoleRoutes(app: Express, dir = CONSOLE_DIR): void {
  if (!existsSync(path.join(dir, 'index.html'))) return;
  const security = (res: express.Response) => {
    res.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'no-referrer');
  };
  app.use(
    '/console/assets',
    express.static(path.join(dir, 'assets'), {
      index: false,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => security(res),
    }),
  );
  // Middleware, not routes: the page is no part of the API that /openapi.json documents.
  app.use('/console', (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path.startsWith('/assets/')) {
      next();
      return;
    }
    if (req.originalUrl === '/console' || req.originalUrl.startsWith('/console?')) {
      res.redirect(301, '/console/');
      return;
    }
    security(res);
    res.set('Cache-Control', 'no-cache');
    res.sendFile(path.join(dir, 'index.html'));
  });
}
