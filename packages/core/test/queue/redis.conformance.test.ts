import { RedisQueue } from '@outbound/core';
import { queueConformance } from './conformance';
import { redisFixture } from './conformance/redis-fixture';

queueConformance('redis (standalone)', redisFixture((client, options) => new RedisQueue(client, options)));
