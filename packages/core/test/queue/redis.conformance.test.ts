import { RedisQueue } from '@outbound/core';
import { queueConformance, WITHOUT_HISTORY } from './conformance';
import { redisFixture } from './conformance/redis-fixture';

queueConformance('redis (standalone)', redisFixture((client, options) => new RedisQueue(client, options)), WITHOUT_HISTORY);
