import { RedisQueueV3 } from '@outbound/core';
import { queueConformance } from './conformance';
import { redisFixture } from './conformance/redis-fixture';

queueConformance('redis v3 layout (standalone)', redisFixture((client, options) => new RedisQueueV3(client, options)));
