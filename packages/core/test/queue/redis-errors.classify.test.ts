import Redis, { ReplyError } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors';
import { RedisQueue, RedisRouteRegistry, ValidatedQueue, classifyRedisError, type StoreError } from '@outbound/core';
import { freePort, startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '@outbound/test-support';
import { cmd } from './conformance';

describe('classifyRedisError', () => {
  // The replies Redis sends when it refuses a command as a whole, as ioredis hands them over.
  it.each([
    ['LOADING Redis is loading the dataset in memory', 'failover', 'STORE_UNAVAILABLE'],
    ["READONLY You can't write against a read only replica.", 'failover', 'STORE_UNAVAILABLE'],
    ['CLUSTERDOWN The cluster is down', 'failover', 'STORE_UNAVAILABLE'],
    ['TRYAGAIN Multiple keys request during rehashing of slot', 'failover', 'STORE_UNAVAILABLE'],
    ['MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.', 'failover', 'STORE_UNAVAILABLE'],
    ['BUSY Redis is busy running a script.', 'failover', 'STORE_UNAVAILABLE'],
    ["OOM command not allowed when used memory > 'maxmemory'.", 'full', 'STORE_FULL'],
    ['ERR user_script:12: attempt to compare nil with number', 'internal', 'INTERNAL'],
  ])('%s → %s', (message, kind, code) => {
    const error = classifyRedisError(new ReplyError(message), 'enqueue');
    expect(error).toMatchObject({ backend: 'redis', kind, code });
    expect(error.cause).toBeInstanceOf(ReplyError);
  });

  it('tells a command never sent from one that may have run', () => {
    expect(classifyRedisError(new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'get')).toMatchObject({ kind: 'unreachable', code: 'STORE_UNAVAILABLE' });
    expect(classifyRedisError(new Error('Command timed out'), 'ack')).toMatchObject({ kind: 'timeout' });
    expect(classifyRedisError(new Error('Connection is closed.'), 'ack')).toMatchObject({ kind: 'timeout' });
    // ioredis rejects the commands it had written and not seen answered with this error too,
    // when it gives up reconnecting: such a command may have run before the server died.
    expect(classifyRedisError(new MaxRetriesPerRequestError(3), 'enqueue')).toMatchObject({ kind: 'timeout' });
  });

  it('calls a queue that lost its server unreachable, and refuses requests unsent from then on', async () => {
    const redis = await startRedisServer();
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    const queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('lost'), shards: 2 }));
    await queue.enqueue(cmd('lost-1'));
    await redis.kill();
    // From the moment the client knows the connection is gone, requests are refused unsent.
    await waitFor(() => client.status !== 'ready', { what: 'the client to see the connection lost' });
    const failure = (await queue.enqueue(cmd('lost-1')).catch((error: unknown) => error)) as StoreError;
    expect(failure).toMatchObject({ backend: 'redis', kind: 'unreachable', code: 'STORE_UNAVAILABLE', status: 503 });
    await queue.close();
    client.disconnect();
    await redis.stop();
  });
});

describe('Redis refusing writes (a replica: READONLY)', () => {
  let redis: RedisServerHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url);
    // A replica of a master that is not there: it serves reads and refuses every write.
    await client.call('REPLICAOF', '127.0.0.1', String(await freePort()));
  });
  afterAll(async () => {
    await client.call('REPLICAOF', 'NO', 'ONE');
    await client.quit();
    await redis.stop();
  });

  it('answers 503 STORE_UNAVAILABLE (failover) for queue and registry writes, and still reads', async () => {
    const queue = new ValidatedQueue(new RedisQueue(client, { prefix: uniquePrefix('readonly'), shards: 2 }));
    const batch = await queue.enqueueBatch([cmd('ro-1'), cmd('ro-2')]);
    for (const answer of batch) expect(answer).toMatchObject({ backend: 'redis', kind: 'failover', code: 'STORE_UNAVAILABLE', status: 503 });
    await expect(queue.claim({ max: 5, leaseMs: 10_000 })).rejects.toMatchObject({ kind: 'failover', code: 'STORE_UNAVAILABLE' });
    expect(await queue.get('00000000-0000-4000-8000-000000000000')).toBeNull();
    await queue.close();

    const registry = new RedisRouteRegistry({ client, prefix: uniquePrefix('readonly-routes'), shards: 2 });
    await expect(registry.register('ro-1', { replicaId: 'r1', address: 'http://127.0.0.1:1' })).rejects.toMatchObject({ kind: 'failover', code: 'STORE_UNAVAILABLE' });
    expect(await registry.lookup('ro-1')).toBeNull();
    await registry.close();
  });
});
