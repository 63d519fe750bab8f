import { createHook } from 'node:async_hooks';
import { createRedisClient } from '@outbound/core';
import { startRedisServer, testRedisUrl, uniquePrefix, waitFor } from '@outbound/test-support';

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

describe('a large reply in a test run', () => {
  it('leaves no timer that keeps the process alive once its client has quit', async () => {
    // A bulk reply that arrives in several reads makes ioredis' parser start a module-wide interval that shrinks its
    // buffer pool over the next seconds; no client call stops it. The jest setup unrefs it, so a worker whose last file
    // read such a reply still exits when jest ends it. The interval is found by its callback.
    const started: Array<{ hasRef(): boolean }> = [];
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        const timer = resource as { _onTimeout?: { name?: string }; hasRef(): boolean };
        if (type === 'Timeout' && timer._onTimeout?.name === 'decreaseBufferPool') started.push(timer);
      },
    }).enable();
    const client = createRedisClient({ url: testRedisUrl() });
    try {
      const key = `${uniquePrefix('large-reply')}:value`;
      await client.set(key, 'x'.repeat(4 * 1024 * 1024));
      expect((await client.getBuffer(key))?.length).toBe(4 * 1024 * 1024);
      await client.del(key);
    } finally {
      hook.disable();
      await client.quit();
    }
    expect(started.length).toBeGreaterThan(0); // the reply did take the several-reads path
    expect(started.map((timer) => timer.hasRef())).toEqual(started.map(() => false));
  });
});
