import { createRedisClient } from '@outbound/core';
import { startRedisServer, waitFor } from '@outbound/test-support';

describe('createRedisClient', () => {
  it('closes a client whose server is gone without leaving a long timer behind', async () => {
    const server = await startRedisServer();
    const client = createRedisClient({ url: server.url, connectTimeoutMs: 500 });
    client.on('error', () => undefined);
    await client.ping();
    await server.kill();
    await waitFor(() => client.status === 'reconnecting', { what: 'the client to notice the server is gone' });
    // ioredis' quit() of a reconnecting client arms a timer of `disconnectTimeout` (2 s by default) to destroy a socket
    // that is already closed, and nothing clears it. In a jest worker that outlived the worker's 500 ms exit grace
    // when the file ran last ("A worker process has failed to exit gracefully" after api.store-down.test.ts).
    const spy = jest.spyOn(global, 'setTimeout');
    try {
      await client.quit().catch(() => client.disconnect());
      const delays = spy.mock.calls.map((call) => Number(call[1] ?? 0));
      expect(delays.filter((ms) => ms > 250)).toEqual([]);
    } finally {
      spy.mockRestore();
      client.disconnect();
    }
  });
});
