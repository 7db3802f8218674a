export { rateLimit, type FailureMode, type InsuranceOptions, type RateLimitOptions, type StoreFailure } from './rate-limit.ts';
export { concurrencyLimit, type ConcurrencyLimitOptions } from './concurrency.ts';
export { tokenBucket, slidingWindow, fixedWindow, type Duration, type Limit, type TokenBucketOptions, type WindowOptions } from './limits.ts';
export { byIp, byHeader, byScope, byRoute, allRequests, joinKeys, type ByIpOptions, type KeyFunction } from './keys.ts';
export { memoryStore, MemoryStore, type MemoryStoreOptions } from './memory-store.ts';
export type { Acquired, ConcurrencyStore, LimitCheck, Outcome, RateLimitStore } from './store.ts';
export type { HeaderOptions, HeaderStyle } from './headers.ts';
