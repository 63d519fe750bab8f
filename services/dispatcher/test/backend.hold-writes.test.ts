import { Socket } from 'node:net';
import { testRedisUrl, uniquePrefix } from '@outbound/test-support';
import { createBackend, loadDispatcherConfig } from '../src';

/** Backend.holdWrites: store calls made in one synchronous stretch after it leave in one socket write. */
describe('dispatcher Redis backend holdWrites', () => {
  it('sends the calls of the rest of this synchronous stretch in one socket write', async () => {
    const { config } = loadDispatcherConfig({ env: { REDIS_URL: testRedisUrl(), QUEUE_PREFIX: uniquePrefix('hold-writes'), INTERNAL_TOKEN: 'internal-token-0123456789' } });
    const backend = await createBackend(config, 'hold-writes-test');
    const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = proto._writeGeneric;
    let writes = 0;
    proto._writeGeneric = function (this: Socket, ...args: unknown[]) {
      writes += 1;
      return original.apply(this, args);
    };
    try {
      await backend.registry.lookupMany(['hold-dev-1']); // connected, scripts loaded
      // Each lookup is two calls (the live replicas and the routes): four writes unheld.
      writes = 0;
      await Promise.all([backend.registry.lookupMany(['hold-dev-1']), backend.registry.lookupMany(['hold-dev-2'])]);
      const unheld = writes;
      expect(unheld).toBeGreaterThanOrEqual(2);
      writes = 0;
      backend.holdWrites!();
      const looked = await Promise.all([backend.registry.lookupMany(['hold-dev-1']), backend.registry.lookupMany(['hold-dev-2'])]);
      expect(writes).toBe(1);
      expect(looked.map((routes) => routes.size)).toEqual([0, 0]);
    } finally {
      proto._writeGeneric = original;
      await backend.close();
    }
  });
});
