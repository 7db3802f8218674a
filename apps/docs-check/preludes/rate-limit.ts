// What an excerpt of the rate-limiting docs uses without importing it: @apigate/rate-limit and a
// list of limits as the page's first example declares them.
import { tokenBucket, type Limit } from '@apigate/rate-limit';
import type { Redis } from 'ioredis';

export {
  rateLimit,
  concurrencyLimit,
  tokenBucket,
  slidingWindow,
  fixedWindow,
  byIp,
  byHeader,
  byScope,
  byRoute,
  allRequests,
  joinKeys,
  memoryStore,
} from '@apigate/rate-limit';
export { redisStore } from '@apigate/rate-limit/redis';
export { get } from '@apigate/core';
export const limits: Limit[] = [tokenBucket({ rate: 10, burst: 20, name: 'burst' })];
/** The reader's ioredis client. */
export declare const client: Redis;
