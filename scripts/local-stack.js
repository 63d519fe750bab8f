#!/usr/bin/env node
/*
 * `npm start`: the whole Outbound stack on one machine, for a first look.
 *
 *   redis-server (AOF under .data/redis, or REDIS_URL) → ingress → dispatcher
 *   + 100 simulated devices (`outbound sim`) + a small producer sending a mix of priorities.
 *
 * `npm start -- --backend postgres` (or QUEUE_BACKEND=postgres npm start) keeps the queue and
 * the route registry in PostgreSQL instead: DATABASE_URL, else database `outbound_local` on the
 * local server at 127.0.0.1:5432 (created when missing); no Redis is started.
 *
 * Every service is a real process started from dist/ (ensure-setup.js built it), configured
 * through the same environment variables as production; their logs go to .data/logs/.
 * Ctrl-C stops them in order: producer, devices, dispatcher (finishes in-flight work),
 * ingress (drains), Redis (flushes its AOF). Plain Node on purpose: no build step of its own.
 */
'use strict';
const { spawn, execSync, spawnSync } = require('node:child_process');
const { mkdirSync, openSync, existsSync } = require('node:fs');
const net = require('node:net');
const { join } = require('node:path');
const { randomBytes } = require('node:crypto');

const root = join(__dirname, '..');
const dataDir = join(root, '.data');
const logDir = join(dataDir, 'logs');
const DEVICES = Number(process.env.STACK_DEVICES || 100);
const RATE = Number(process.env.STACK_RATE ?? 20); // producer commands per second (0: no producer, e.g. for the benchmark)
const SIM_BEHAVIOUR = {
  ackLatency: process.env.STACK_ACK_LATENCY ?? '2-30',
  rejectRate: process.env.STACK_REJECT_RATE ?? '0.01',
  busyRate: process.env.STACK_BUSY_RATE ?? '0.02',
};
const SEND_KEY = 'demo-send-key-local';
const ADMIN_KEY = 'demo-admin-key-local';
const DEVICE_SECRET = 'local-demo-device-secret-not-for-prod';
const INTERNAL_TOKEN = randomBytes(16).toString('hex');

const say = (line) => process.stdout.write(`[stack] ${line}\n`);

/** `--backend redis|postgres` (also `--backend=postgres`), else QUEUE_BACKEND, else redis. */
function chooseBackend(argv) {
  let chosen = process.env.QUEUE_BACKEND || 'redis';
  argv.forEach((arg, i) => {
    if (arg === '--backend') chosen = argv[i + 1] ?? '';
    else if (arg.startsWith('--backend=')) chosen = arg.slice('--backend='.length);
  });
  if (chosen !== 'redis' && chosen !== 'postgres') {
    say(`unknown backend "${chosen}": use --backend redis or --backend postgres`);
    process.exit(2);
  }
  return chosen;
}
const BACKEND = chooseBackend(process.argv.slice(2));
const LOCAL_DATABASE = process.env.STACK_PG_DATABASE || 'outbound_local';
// Where `outbound_local` is created when DATABASE_URL is not given: the local server as its superuser.
const PG_ADMIN_URL = process.env.STACK_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const hideSecret = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The preferred port if it is free on 127.0.0.1, else any free port. */
function portFor(preferred) {
  const tryListen = (port) =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen(port, '127.0.0.1', () => {
        const chosen = server.address().port;
        server.close(() => resolve(chosen));
      });
    });
  return tryListen(preferred).then((p) => p ?? tryListen(0));
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Finds redis-server, installing it with apt-get when we are root; otherwise says what to run. */
function ensureRedisServer() {
  if (hasCommand('redis-server')) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && hasCommand('apt-get')) {
    say('redis-server is missing; installing it with apt-get (you are root)');
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server', { stdio: 'inherit' });
    if (hasCommand('redis-server')) return;
  }
  say('redis-server is not installed. Install it, then run npm start again:');
  say('  Debian/Ubuntu:  sudo apt-get install -y redis-server');
  say('  macOS:          brew install redis');
  say('  or point at an existing Redis:  REDIS_URL=redis://host:6379 npm start');
  process.exit(1);
}

/** Says what PostgreSQL mode needs when the local server cannot be used, and exits. */
function postgresMissing(reason) {
  say(`PostgreSQL mode needs a PostgreSQL server (13 or newer); ${reason}.`);
  say('  Debian/Ubuntu:  sudo apt-get install -y postgresql && sudo service postgresql start');
  say('  macOS:          brew install postgresql@16 && brew services start postgresql@16');
  say(`  npm start then creates database ${LOCAL_DATABASE} through ${hideSecret(PG_ADMIN_URL)} (STACK_PG_ADMIN_URL to change it),`);
  say('  or point at a database you made:  DATABASE_URL=postgres://user:pass@host:5432/db npm start -- --backend postgres');
  process.exit(1);
}

/**
 * DATABASE_URL as given, else `outbound_local` on the local server (created when missing). The
 * services apply the schema migrations themselves at start-up.
 */
async function ensureDatabase() {
  if (process.env.DATABASE_URL) {
    say(`using PostgreSQL at ${hideSecret(process.env.DATABASE_URL)}`);
    return process.env.DATABASE_URL;
  }
  let Client;
  try {
    ({ Client } = require('pg'));
  } catch {
    say('the pg package is missing: run "npm install" (npm start normally does it through scripts/ensure-setup.js)');
    process.exit(1);
  }
  const admin = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await admin.connect();
  } catch (error) {
    postgresMissing(`${hideSecret(PG_ADMIN_URL)} did not answer (${error.message})`);
  }
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [LOCAL_DATABASE]);
    if (rowCount === 0) {
      await admin.query(`CREATE DATABASE "${LOCAL_DATABASE.replace(/"/g, '""')}"`);
      say(`created database ${LOCAL_DATABASE}`);
    }
  } catch (error) {
    postgresMissing(`database ${LOCAL_DATABASE} could not be created (${error.message})`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${LOCAL_DATABASE}`;
  say(`PostgreSQL: database ${LOCAL_DATABASE} at ${hideSecret(url.toString())} (schema outbound)`);
  return url.toString();
}

/** PINGs Redis over a raw socket until it answers (no client library needed here). */
async function waitForRedis(port, host = '127.0.0.1', timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, host);
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => { socket.destroy(); resolve(d.toString().startsWith('+PONG')); });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => { socket.destroy(); resolve(false); });
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`Redis on ${host}:${port} did not answer PING within ${timeoutMs} ms`);
}

async function waitForHttp(url, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(url).catch(() => null);
    if (res && res.status === 200) return;
    await sleep(150);
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms (see .data/logs/)`);
}

const children = [];

/** Starts a child in its own process group (so Ctrl-C reaches only us and we stop them in order), logging to .data/logs/<name>.log. */
function start(name, command, args, env) {
  const log = openSync(join(logDir, `${name}.log`), 'a');
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', log, log], detached: true });
  const entry = { name, child, exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code))) };
  entry.exited.then((how) => {
    if (!stopping) {
      say(`${name} exited unexpectedly (${how}); see .data/logs/${name}.log. Stopping the stack.`);
      void stopAll(1);
    }
  });
  children.push(entry);
  return entry;
}

async function stopChild(entry, signal, graceMs) {
  if (entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  entry.child.kill(signal);
  const result = await Promise.race([entry.exited, sleep(graceMs).then(() => 'timeout')]);
  if (result === 'timeout') {
    say(`${entry.name} did not stop within ${graceMs} ms; killing it`);
    entry.child.kill('SIGKILL');
    await entry.exited;
  }
}

let stopping = false;
let producer = null;
const byNameHas = (name) => children.some((c) => c.name === name);
async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  say(`stopping: producer, devices, dispatcher, ingress${byNameHas('redis') ? ', redis' : ''}`);
  if (producer) producer.stop();
  // Reverse start order: devices first (nothing new arrives), then the dispatcher finishes what
  // it holds, the ingress drains, and Redis flushes its AOF last.
  const byName = Object.fromEntries(children.map((c) => [c.name, c]));
  if (byName.devices) await stopChild(byName.devices, 'SIGINT', 5_000);
  if (byName.dispatcher) await stopChild(byName.dispatcher, 'SIGTERM', 20_000);
  if (byName.ingress) await stopChild(byName.ingress, 'SIGTERM', 35_000);
  if (byName.redis) await stopChild(byName.redis, 'SIGTERM', 10_000);
  say('stopped');
  process.exit(code);
}

/** Sends RATE commands per second to random devices with a spread of priorities, in small batches. */
function startProducer(apiUrl) {
  let sent = 0;
  let failed = 0;
  let timer = null;
  const tick = async () => {
    const n = Math.max(1, Math.round(RATE / 4));
    const commands = Array.from({ length: n }, () => {
      const device = 1 + Math.floor(Math.random() * DEVICES);
      const roll = Math.random();
      const priority = roll < 0.1 ? 9 : roll < 0.3 ? 7 : roll < 0.8 ? 5 : 1;
      const payload = Buffer.from(JSON.stringify({ op: 'set-current', amps: 6 + Math.floor(Math.random() * 26) })).toString('base64');
      return { phyId: `SIM${String(device).padStart(5, '0')}`, payload, priority, ttlMs: 600_000, ackTimeoutMs: 5_000 };
    });
    try {
      const res = await fetch(`${apiUrl}/v1/commands/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SEND_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ commands }),
      });
      const body = await res.json();
      sent += body.accepted ?? 0;
      failed += body.failed ?? n;
    } catch {
      failed += n;
    }
    if (!stopping) timer = setTimeout(tick, 250);
  };
  timer = setTimeout(tick, 250);
  return {
    stats: () => ({ sent, failed }),
    stop: () => clearTimeout(timer),
  };
}

/** One status line: what the producer sent, what devices acknowledged, and the queue. */
async function report(apiUrl) {
  try {
    const [stats, metrics] = await Promise.all([
      fetch(`${apiUrl}/v1/stats`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then((r) => r.json()),
      fetch(`${apiUrl}/metrics`).then((r) => r.text()),
    ]);
    const delivered = (outcome) => {
      const m = new RegExp(`outbound_dispatcher_delivered_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(metrics);
      return m ? Number(m[1]) : 0;
    };
    const t = stats.total;
    const { sent, failed } = producer ? producer.stats() : { sent: 0, failed: 0 };
    say(`producer sent ${sent}${failed ? ` (${failed} refused)` : ''} | dispatcher since start: acked ${delivered('ok')}, rejected ${delivered('rejected')}, busy ${delivered('busy')} | queue: pending ${t.pending}, in flight ${t.inflight}, delayed ${t.delayed}, waiting for device ${t.waitingForDevice}, dead ${t.dead}`);
  } catch (error) {
    say(`status unavailable: ${error.message}`);
  }
}

async function main() {
  for (const bin of ['services/ingress/dist/main.js', 'services/dispatcher/dist/main.js', 'packages/cli/dist/main.js']) {
    if (!existsSync(join(root, bin))) {
      say(`${bin} is missing: run "npm run build" (npm start normally does it through scripts/ensure-setup.js)`);
      process.exit(1);
    }
  }
  mkdirSync(logDir, { recursive: true });
  process.on('SIGINT', () => void (stopping ? process.exit(130) : stopAll(0)));
  process.on('SIGTERM', () => void stopAll(0));
  process.on('exit', () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  // The store: Redis (started here unless REDIS_URL) or PostgreSQL (QUEUE_BACKEND=postgres).
  const store = { QUEUE_BACKEND: BACKEND };
  if (BACKEND === 'postgres') {
    store.DATABASE_URL = await ensureDatabase();
  } else {
    let redisUrl = process.env.REDIS_URL;
    if (redisUrl) {
      say(`using Redis at ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
    } else {
      ensureRedisServer();
      const port = await portFor(Number(process.env.STACK_REDIS_PORT || 6390));
      const dir = join(dataDir, 'redis');
      mkdirSync(dir, { recursive: true });
      start('redis', 'redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--save', '', '--daemonize', 'no',
      ]);
      await waitForRedis(port);
      redisUrl = `redis://127.0.0.1:${port}`;
      say(`redis-server on ${redisUrl} (AOF in .data/redis)`);
    }
    store.REDIS_URL = redisUrl;
  }

  const ingressHttp = await portFor(Number(process.env.STACK_INGRESS_HTTP_PORT || 8081));
  const ingressTcp = await portFor(Number(process.env.STACK_INGRESS_TCP_PORT || 7000));
  const apiPort = await portFor(Number(process.env.STACK_API_PORT || 8080));
  const common = { ...store, INTERNAL_TOKEN, LOG_LEVEL: process.env.LOG_LEVEL || 'info' };

  start('ingress', process.execPath, ['services/ingress/dist/main.js'], {
    ...common,
    INGRESS_REPLICA_ID: 'local-ingress-1',
    INGRESS_HTTP_HOST: '127.0.0.1', INGRESS_HTTP_PORT: String(ingressHttp),
    INGRESS_TCP_HOST: '127.0.0.1', INGRESS_TCP_PORT: String(ingressTcp),
    DEVICE_AUTH_MODE: 'hmac', DEVICE_AUTH_SECRETS: DEVICE_SECRET,
    // The simulated devices all connect from 127.0.0.1: no per-address handshake limit.
    INGRESS_HANDSHAKES_PER_IP: '0',
    INGRESS_SHUTDOWN_GRACE_MS: '5000',
  });
  await waitForHttp(`http://127.0.0.1:${ingressHttp}/readyz`);
  say(`ingress: devices connect to tcp://127.0.0.1:${ingressTcp}`);

  start('dispatcher', process.execPath, ['services/dispatcher/dist/main.js'], {
    ...common,
    API_KEYS: `${SEND_KEY}:send,${ADMIN_KEY}:admin`,
    DISPATCHER_HTTP_HOST: '127.0.0.1', DISPATCHER_HTTP_PORT: String(apiPort),
    DISPATCHER_SHUTDOWN_GRACE_MS: '10000',
  });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  await waitForHttp(`${apiUrl}/readyz`);

  start('devices', process.execPath, [
    'packages/cli/dist/main.js', 'sim', '--host', '127.0.0.1', '--port', String(ingressTcp), '--devices', String(DEVICES),
    '--secret', DEVICE_SECRET, '--ack-latency', SIM_BEHAVIOUR.ackLatency, '--reject-rate', SIM_BEHAVIOUR.rejectRate,
    '--busy-rate', SIM_BEHAVIOUR.busyRate, '--summary-interval', '10',
  ], {});
  if (RATE > 0) producer = startProducer(apiUrl);

  const b64 = Buffer.from('hello device').toString('base64');
  process.stdout.write(`
  Outbound is running on ${BACKEND === 'postgres' ? 'PostgreSQL' : 'Redis'} (queue and route registry).

    console      ${apiUrl}/console/   (sign in with the admin key ${ADMIN_KEY})
    API          ${apiUrl}            (OpenAPI: ${apiUrl}/openapi.json)
    API keys     ${SEND_KEY} (role send)   ${ADMIN_KEY} (role admin)
    devices      ${DEVICES} simulated, SIM00001 .. SIM${String(DEVICES).padStart(5, '0')}, on tcp://127.0.0.1:${ingressTcp}
    metrics      ${apiUrl}/metrics   http://127.0.0.1:${ingressHttp}/metrics
    health       ${apiUrl}/health    http://127.0.0.1:${ingressHttp}/health
    logs         .data/logs/{${BACKEND === 'redis' && !process.env.REDIS_URL ? 'redis,' : ''}ingress,dispatcher,devices}.log

  Try it${RATE > 0 ? ` (a producer is already sending ~${RATE} commands/s with mixed priorities)` : ''}:

    curl -s -X POST '${apiUrl}/v1/commands?waitMs=5000' \\
      -H 'Authorization: Bearer ${SEND_KEY}' -H 'Content-Type: application/json' \\
      -d '{"phyId":"SIM00001","payload":"${b64}","priority":9}'

    curl -s ${apiUrl}/v1/commands/<id> -H 'Authorization: Bearer ${SEND_KEY}'
    curl -s ${apiUrl}/v1/devices/SIM00001 -H 'Authorization: Bearer ${ADMIN_KEY}'
    curl -s ${apiUrl}/v1/stats -H 'Authorization: Bearer ${ADMIN_KEY}'

    node packages/cli/dist/main.js enqueue SIM00002 hello --wait 5000 --url ${apiUrl} --key ${SEND_KEY}

  Ctrl-C stops everything.

`);
  setInterval(() => void report(apiUrl), 5_000).unref();
}

main().catch((error) => {
  say(`failed: ${error.message}`);
  void stopAll(1);
});
