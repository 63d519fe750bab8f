import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseLatency } from '../sim/behaviour';
import { runSimulator } from '../sim/run-simulator';

function integer(min: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
    return value;
  };
}

function rate(text: string): number {
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new InvalidArgumentError('must be a number in 0..1');
  return value;
}

function latency(text: string): number | { min: number; max: number } {
  try {
    return parseLatency(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function churn(text: string): { intervalMs: number; fraction: number } {
  const match = /^(\d+):(\d*\.?\d+)$/.exec(text);
  const value = match ? { intervalMs: Number(match[1]), fraction: Number(match[2]) } : undefined;
  if (!value || value.intervalMs <= 0 || value.fraction > 1) throw new InvalidArgumentError('must be INTERVAL_MS:FRACTION, e.g. 10000:0.05');
  return value;
}

/**
 * `--no-ack-rate <rate>`: commander reads any `--no-` flag as the negation of `--ack-rate`,
 * which would drop the value. This one is a rate of "no ACK", so it is made an ordinary option.
 */
function noAckRateOption(): Option {
  const option = new Option('--no-ack-rate <rate>', 'share of ACKs never sent').argParser(rate).default(0);
  option.negate = false;
  return option;
}

function deviceKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32 || key.toString('base64') !== value) throw new InvalidArgumentError('must be 32 bytes in base64');
  return key;
}

interface SimFlags {
  host: string;
  port: number;
  devices: number;
  secret?: string;
  key?: Buffer;
  legacyToken?: string | true;
  idPrefix: string;
  ackLatency: number | { min: number; max: number };
  rejectRate: number;
  busyRate: number;
  noAckRate: number;
  churn?: { intervalMs: number; fraction: number };
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectConcurrency: number;
  summaryInterval: number;
  duration?: number;
  tls?: boolean;
  ca?: string;
  insecure?: boolean;
  json?: boolean;
}

/** `outbound sim`: N simulated devices against an ingress, with a summary at an interval and on exit. */
export function register(program: Command): void {
  program
    .command('sim')
    .description('Run simulated devices that speak wire protocol v1 against an ingress (see docs/protocol.md)')
    .addOption(new Option('--host <host>', 'ingress TCP host').default('127.0.0.1'))
    .addOption(new Option('--port <port>', 'ingress TCP port').env('INGRESS_TCP_PORT').argParser(integer(1)).makeOptionMandatory())
    .addOption(new Option('--devices <n>', 'how many devices').argParser(integer(1)).default(10))
    .addOption(new Option('--secret <secret>', 'fleet secret the device keys are derived from (HMAC-SHA256(secret, phyId))').env('DEVICE_AUTH_SECRET'))
    .addOption(new Option('--key <base64>', 'a provisioned 32-byte device key (base64) every simulated device uses').argParser(deviceKey))
    .addOption(new Option('--legacy-token [token]', 'speak the v1 static-token HELLO (servers with INGRESS_LEGACY_TOKEN_AUTH=true): this token, or the device key\'s hex'))
    .addOption(new Option('--id-prefix <prefix>', 'phyId prefix: PREFIX00001, ...').default('SIM'))
    .addOption(new Option('--ack-latency <ms>', 'ACK delay: MS or MIN-MAX (uniform)').argParser(latency).default(0))
    .addOption(new Option('--reject-rate <rate>', 'share of commands answered REJECTED').argParser(rate).default(0))
    .addOption(new Option('--busy-rate <rate>', 'share of commands answered BUSY').argParser(rate).default(0))
    .addOption(noAckRateOption())
    .addOption(new Option('--churn <interval:fraction>', 'every INTERVAL ms drop FRACTION of the connections').argParser(churn))
    .addOption(new Option('--reconnect-min-ms <ms>', 'reconnect backoff start').argParser(integer(0)).default(200))
    .addOption(new Option('--reconnect-max-ms <ms>', 'reconnect backoff cap').argParser(integer(0)).default(5000))
    .addOption(new Option('--connect-concurrency <n>', 'handshakes in flight at once while starting').argParser(integer(1)).default(200))
    .addOption(new Option('--summary-interval <seconds>', 'print a summary this often (0: only on exit)').argParser(integer(0)).default(5))
    .addOption(new Option('--duration <seconds>', 'stop after this long (default: until SIGINT/SIGTERM)').argParser(integer(1)))
    .addOption(new Option('--tls', 'connect with TLS'))
    .addOption(new Option('--ca <file>', 'PEM CA to trust for TLS'))
    .addOption(new Option('--insecure', 'TLS without verifying the server certificate'))
    .addOption(new Option('--json', 'print summaries as JSON lines'))
    .action(async (flags: SimFlags) => {
      if (flags.reconnectMaxMs < flags.reconnectMinMs) throw new InvalidArgumentError('--reconnect-max-ms must be >= --reconnect-min-ms');
      if (flags.secret === undefined && flags.key === undefined) {
        process.stderr.write('[sim] no --secret or --key: proving an all-zero key (works only with auth mode none)\n');
      }
      await runSimulator(
        {
          host: flags.host,
          port: flags.port,
          count: flags.devices,
          secret: flags.secret,
          key: flags.key,
          legacyToken: flags.legacyToken,
          idPrefix: flags.idPrefix,
          ackLatencyMs: flags.ackLatency,
          rejectRate: flags.rejectRate,
          busyRate: flags.busyRate,
          noAckRate: flags.noAckRate,
          churn: flags.churn,
          reconnect: { minMs: flags.reconnectMinMs, maxMs: flags.reconnectMaxMs },
          connectConcurrency: flags.connectConcurrency,
          tls: flags.tls || flags.ca || flags.insecure ? { ca: flags.ca ? readFileSync(flags.ca) : undefined, rejectUnauthorized: !flags.insecure } : undefined,
        },
        {
          summaryIntervalMs: flags.summaryInterval * 1000,
          durationMs: flags.duration === undefined ? undefined : flags.duration * 1000,
          json: flags.json === true,
          write: (line) => process.stdout.write(`${line}\n`),
        },
      );
    });
}
