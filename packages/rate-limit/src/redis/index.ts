export { redisStore, RedisStore, type RedisStoreOptions } from './redis-store.ts';
