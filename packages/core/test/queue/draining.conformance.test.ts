import { DrainingQueue, RedisQueue, RedisQueueV3 } from '@outbound/core';
import { queueConformance } from './conformance';
import { redisFixture } from './conformance/redis-fixture';

/** The queue a dispatcher runs during an upgrade (v2 draining into v3) keeps every promise of the contract. */
queueConformance('redis v2 draining into v3 (standalone)', redisFixture((client, options) => new DrainingQueue(new RedisQueue(client, options), new RedisQueueV3(client, options))));
