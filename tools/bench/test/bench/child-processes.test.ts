import { spawn } from 'node:child_process';
import { cpuSeconds, cpuSecondsOfTree, localPostmaster } from '../../src/bench/child-processes';

/** The CPU meters the end-to-end bench reads PostgreSQL with (/proc, this host). */
describe('CPU of a process tree', () => {
  it('keeps the CPU of a child that ended and was reaped, which a sum over live processes loses', async () => {
    const treeBefore = cpuSecondsOfTree(process.pid);
    const ownBefore = cpuSeconds(process.pid);
    // a child that spins until it has used 0.3 s of CPU, then exits
    const child = spawn(process.execPath, ['-e', 'const t = process.cpuUsage(); while (process.cpuUsage(t).user < 300000);']);
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', () => resolve()); // 'exit' comes after node reaped it
    });
    const childSeconds = cpuSecondsOfTree(process.pid) - treeBefore - (cpuSeconds(process.pid) - ownBefore);
    expect(childSeconds).toBeGreaterThanOrEqual(0.28);
    expect(childSeconds).toBeLessThan(5);
  });

  it('finds no postmaster behind a pid that is not a PostgreSQL backend on this host', () => {
    expect(localPostmaster(process.pid)).toBeNull();
    expect(localPostmaster(2 ** 22 + 1)).toBeNull(); // above the kernel's pid limit: never a process
  });
});
