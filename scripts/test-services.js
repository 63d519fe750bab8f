/*
 * What `npm test` needs beyond Node, and which of it this machine lacks: redis-server (each test
 * run starts its own), Chromium (the console tests drive it), PostgreSQL's binaries and a server
 * answering on the test URL, and prometheus + promtool (deploy/test/ starts a real Prometheus). Plain Node, no dependencies:
 * it runs before anything is installed. scripts/ensure-setup.js acts on the answer.
 */
'use strict';
const { existsSync, readdirSync } = require('node:fs');
const { delimiter, join } = require('node:path');
const { connect } = require('node:net');

/** True when `name` is an executable file in one of PATH's directories. */
function onPath(name, env) {
  return (env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

/** True when Debian's PostgreSQL binaries are installed (they stay out of PATH). */
function hasPostgresBinaries(env) {
  const root = env.OUTBOUND_PG_LIB ?? '/usr/lib/postgresql';
  if (!existsSync(root)) return false;
  return readdirSync(root).some((version) => existsSync(join(root, version, 'bin', 'postgres')));
}

/** Resolves true when something accepts a TCP connection on host:port within a second. */
function answers(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * What is missing for the tests: `packages` to install with apt-get (Debian names) and
 * `notRunning` services to start. PostgreSQL is expected on OUTBOUND_TEST_PG_URL (default
 * 127.0.0.1:5432, as the tests use it).
 */
async function missingForTests(env = process.env) {
  const packages = [];
  if (!onPath('redis-server', env)) packages.push('redis-server');
  // Debian's package; CHROMIUM_PATH points the console tests at another build.
  if (!(env.CHROMIUM_PATH ? existsSync(env.CHROMIUM_PATH) : onPath('chromium', env))) packages.push('chromium');
  if (!hasPostgresBinaries(env)) packages.push('postgresql');
  if (!onPath('prometheus', env) || !onPath('promtool', env)) packages.push('prometheus');
  const url = new URL(env.OUTBOUND_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const notRunning = (await answers(url.hostname, Number(url.port || 5432))) ? [] : [`PostgreSQL on ${url.hostname}:${url.port || 5432}`];
  return { packages, notRunning };
}

module.exports = { missingForTests };
