import { RedisQueueV3 } from '@outbound/core';
import { queueConformance } from './conformance';
import { redisFixture } from './conformance/redis-fixture';

// The store runs its function library where Redis takes it (FCALL), else the scripts (EVALSHA): both paths.
queueConformance('redis v3 layout (standalone)', redisFixture((client, options) => new RedisQueueV3(client, options)));
queueConformance('redis v3 layout (standalone, scripts)', redisFixture((client, options) => new RedisQueueV3(client, { ...options, functions: false })));
