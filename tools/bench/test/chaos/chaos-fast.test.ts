import { runCase } from '../../src/chaos/chaos-case';
import { fastCase } from '../../src/chaos/chaos-cases';
import { formatResult } from '../../src/chaos/chaos-report';

/**
 * The fast cases of the fault suite (`npm run chaos` runs them all, longer, on both backends):
 * built services in their own processes, a private redis-server, and the device process that
 * logs every COMMAND it receives. Each case fails on a lost, reordered or untruthfully refused
 * command, or on any process exiting on its own.
 */
describe('fault suite, fast cases (Redis)', () => {
  const c = fastCase();
  it(`${c.name}: ${c.proves}`, async () => {
    const result = await runCase(c, { log: () => undefined });
    // The whole report on failure, so the jest output says what broke.
    expect({ failures: result.failures, report: formatResult(result) }).toEqual({ failures: [], report: expect.stringContaining('PASS') });
    expect(result.counts.accepted).toBeGreaterThan(0);
  }, 120_000);
});
