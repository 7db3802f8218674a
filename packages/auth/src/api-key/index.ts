export { apiKey, consumerKey, type ApiKeyOptions, type ApiKeyScope, type ApiKeySource } from './api-key.ts';
export { hashApiKey, memoryKeyStore, type ApiKeyEntry, type Consumer, type HashOptions, type KeyLookup, type MemoryKeyStore } from './store.ts';
