import { once } from 'node:events';
import { join } from 'node:path';
import { ChildGroup } from './child-processes';

export interface RawTcpResult {
  connections: number;
  messageBytes: number;
  seconds: number;
  roundTripsPerSec: number;
}

/**
 * The machine's own limit for the end-to-end shape: request/response round trips per second
 * between two Node processes over `connections` TCP connections on 127.0.0.1, one request
 * outstanding per connection, no queue and no HTTP. The end-to-end result is reported as a
 * fraction of this.
 */
export async function runRawTcp(options: { connections: number; seconds: number; messageBytes?: number }): Promise<RawTcpResult> {
  const group = new ChildGroup();
  const worker = join(__dirname, 'raw-tcp-worker.js');
  const messageBytes = options.messageBytes ?? 64;
  try {
    const server = group.spawnNode('raw-tcp-server', worker, [JSON.stringify({ role: 'server' })]);
    const [listening] = (await once(server, 'message')) as [{ port: number }];
    const client = group.spawnNode('raw-tcp-client', worker, [JSON.stringify({ role: 'client', port: listening.port, connections: options.connections, seconds: options.seconds, messageBytes })]);
    const [done] = (await once(client, 'message')) as [{ roundTrips: number; seconds: number }];
    return { connections: options.connections, messageBytes, seconds: Math.round(done.seconds * 10) / 10, roundTripsPerSec: Math.round(done.roundTrips / done.seconds) };
  } finally {
    await group.stopAll(2_000);
  }
}
