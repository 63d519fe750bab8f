import { randomUUID } from 'node:crypto';
import { buildProgram, type FleetSummary } from '@outbound/cli';
import { TestPeer } from './test-peer';

/** Runs `outbound <args>` in-process and returns what it printed to stdout and stderr. */
async function run(args: string[]): Promise<{ out: string; err: string; error?: unknown }> {
  let out = '';
  let err = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  const program = buildProgram();
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: (s) => (out += s) });
  }
  try {
    await program.parseAsync(['node', 'outbound', ...args]);
    return { out, err };
  } catch (error) {
    return { out, err, error };
  } finally {
    spy.mockRestore();
  }
}

describe('outbound sim', () => {
  let peer: TestPeer;

  beforeAll(async () => {
    // Every device gets one command as soon as it is welcomed.
    peer = await TestPeer.start({ secrets: ['cli-secret'], onWelcome: (conn) => conn.sendCommand(randomUUID()) });
  });

  afterAll(async () => {
    await peer.stop();
  });

  it('runs N devices with the given behaviour and prints a final JSON summary on exit', async () => {
    const { out, error } = await run([
      'sim', '--port', String(peer.port), '--devices', '3', '--secret', 'cli-secret', '--id-prefix', 'CLI',
      '--no-ack-rate', '1', '--ack-latency', '1-3', '--summary-interval', '0', '--duration', '1', '--json',
    ]);
    expect(error).toBeUndefined();
    const lines = out.trim().split('\n').map((line) => JSON.parse(line) as FleetSummary & { event: string });
    const final = lines[lines.length - 1];
    expect(final.event).toBe('final (duration)');
    expect(final).toMatchObject({ devices: 3, received: 3, applied: 3, noAck: 3, acked: 0, connects: 3, connected: 0 });
    expect(lines.some((l) => l.event === 'all devices connected')).toBe(true);
    expect(peer.connections.filter((c) => c.phyId.startsWith('CLI0000')).length).toBe(3);
  });

  it('refuses a rate outside 0..1 and a malformed latency, naming the option', async () => {
    const badRate = await run(['sim', '--port', String(peer.port), '--reject-rate', '2']);
    expect(badRate.error).toBeDefined();
    expect(badRate.err).toMatch(/--reject-rate.*0\.\.1/);
    const badLatency = await run(['sim', '--port', String(peer.port), '--ack-latency', '20-5']);
    expect(badLatency.err).toMatch(/--ack-latency.*max below min/);
  });
});
