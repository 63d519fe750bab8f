/**
 * Child-process entry for the raw TCP limit (bench only): no queue, no HTTP, no framing work
 * beyond counting bytes. argv[2] is JSON:
 *   {role:'server'}                          echoes every byte back; reports {type:'listening', port}
 *   {role:'client', port, connections, seconds, messageBytes}
 *        opens `connections` sockets, each with exactly one request outstanding (send
 *        messageBytes, wait for all of them to come back, send the next), counts round trips
 *        for `seconds`; reports {type:'done', roundTrips, seconds}
 * Both exit when the parent disconnects.
 */
import { connect, createServer, type Socket } from 'node:net';

interface WorkerOptions {
  role: 'server' | 'client';
  port?: number;
  connections?: number;
  seconds?: number;
  messageBytes?: number;
}

const send = (message: object): void => {
  if (process.connected) process.send?.(message);
};

function server(): void {
  const srv = createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => undefined);
  });
  srv.maxConnections = 100_000;
  srv.listen(0, '127.0.0.1', () => {
    const address = srv.address();
    send({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 });
  });
}

async function client(options: Required<Omit<WorkerOptions, 'role'>>): Promise<void> {
  const message = Buffer.alloc(options.messageBytes, 0x42);
  const sockets: Socket[] = [];
  // Connect all first, 200 at a time, so the measured window holds only round trips.
  for (let i = 0; i < options.connections; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, options.connections - i) }, () => new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: options.port, noDelay: true }, () => resolve());
      socket.once('error', reject);
      sockets.push(socket);
    })));
  }
  let roundTrips = 0;
  let running = true;
  for (const socket of sockets) {
    let pending = message.length; // the first request is written below
    socket.on('data', (chunk: Buffer) => {
      pending -= chunk.length;
      if (pending > 0) return;
      roundTrips += 1;
      if (!running) return;
      pending = message.length;
      socket.write(message);
    });
  }
  const started = process.hrtime.bigint();
  for (const socket of sockets) socket.write(message);
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  running = false;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  send({ type: 'done', roundTrips, seconds });
  for (const socket of sockets) socket.destroy();
}

const options = JSON.parse(process.argv[2] ?? '{}') as WorkerOptions;
process.on('disconnect', () => process.exit(0));
if (options.role === 'server') server();
else void client({ port: options.port!, connections: options.connections ?? 1000, seconds: options.seconds ?? 5, messageBytes: options.messageBytes ?? 64 });
