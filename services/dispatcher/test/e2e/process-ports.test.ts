import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { listeningPorts, testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { spawnDispatcher } from './support/dispatcher-process';

/**
 * The process spawners decide "ready" only when the child itself listens on the port it was
 * given: a server of another process on that port (it took the port between the free-port probe
 * and the child's listen) must not pass for the child.
 */
describe('which process listens on a port', () => {
  it('tells this process\'s listening port from another process\'s, and forgets it once closed', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const own = (server.address() as AddressInfo).port;
    const child = spawn(process.execPath, ['-e', "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const theirs = Number(await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      expect(listeningPorts(process.pid).has(own)).toBe(true);
      expect(listeningPorts(process.pid).has(theirs)).toBe(false);
      expect(listeningPorts(child.pid!).has(theirs)).toBe(true);
      expect(listeningPorts(child.pid!).has(own)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(listeningPorts(process.pid).has(own)).toBe(false);
  });

  it('a spawned dispatcher is ready only on a port it holds itself', async () => {
    const dispatcher = await spawnDispatcher(testRedisUrl(), uniquePrefix('ports'));
    try {
      const port = Number(new URL(dispatcher.url).port);
      expect(listeningPorts(dispatcher.child.pid!).has(port)).toBe(true);
      expect(listeningPorts(process.pid).has(port)).toBe(false);
    } finally {
      dispatcher.child.kill('SIGTERM');
      await dispatcher.exited;
    }
  });
});
