import { createServer, type Server } from 'node:http';
import { ChildGroup } from '../../src/bench/child-processes';
import { startOnFreePorts } from '../../src/bench/service-processes';

/** A stand-in service: answers /readyz 200 on the port it is given, or exits with an error when that port is taken. */
const SERVICE = "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.argv[1]), '127.0.0.1')";

describe('starting a service on free ports', () => {
  const group = new ChildGroup();
  let impostor: Server | undefined;

  afterEach(async () => {
    await group.stopAll();
    await new Promise<void>((resolve) => (impostor ? impostor.close(() => resolve()) : resolve()));
    impostor = undefined;
  });

  it('starts again on other ports when another process took its port, and never takes that process for the child', async () => {
    const tried: number[] = [];
    const { child, ports } = await startOnFreePorts('stand-in', 1, ([port]) => {
      tried.push(port!);
      if (tried.length === 1) {
        // Another process takes the port before the child binds it, and answers /readyz itself.
        impostor = createServer((_, res) => res.end('not the child')).listen(port, '127.0.0.1');
        return group.spawn('stand-in', process.execPath, ['-e', `setTimeout(() => { ${SERVICE} }, 300)`, String(port)]);
      }
      return group.spawn('stand-in', process.execPath, ['-e', SERVICE, String(port)]);
    }, 10_000);
    expect(tried).toHaveLength(2);
    expect(ports).toEqual([tried[1]]);
    expect(child.exitCode).toBeNull();
    expect(await (await fetch(`http://127.0.0.1:${ports[0]}/readyz`)).text()).toBe('ok');
  });

  it('fails at once, naming the exit code, when the child exits for any other reason', async () => {
    const started = Date.now();
    await expect(startOnFreePorts('stand-in', 1, () => group.spawn('stand-in', process.execPath, ['-e', 'process.exit(3)']), 20_000))
      .rejects.toThrow('stand-in exited with code 3 before it was ready');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
