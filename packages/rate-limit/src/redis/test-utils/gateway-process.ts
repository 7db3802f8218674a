// One gateway instance in a process of its own, for the tests where several instances share one
// Redis: Express on a free loopback port, printing `{"port":N}` once it listens. Run with
// `node --conditions=@apigate/source`. Environment: REDIS_PORT, UPSTREAM (origin), QUOTA (the
// token bucket's burst, refilled once a day: no refill during a test), LEASE_MS, TIMEOUT_MS.
import { createServer } from 'node:http';
import { createGateway, get, service } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { Redis } from 'ioredis';
import { concurrencyLimit } from '../../concurrency.ts';
import { byHeader } from '../../keys.ts';
import { tokenBucket } from '../../limits.ts';
import { rateLimit } from '../../rate-limit.ts';
import { redisStore } from '../redis-store.ts';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`gateway-process: ${name} is not set`);
  return value;
};

const client = new Redis({ host: '127.0.0.1', port: Number(env('REDIS_PORT')), enableOfflineQueue: false, maxRetriesPerRequest: 0 });
client.on('error', () => undefined);
await new Promise<void>((resolve) => client.once('ready', () => resolve()));
const store = redisStore({ client, timeout: Number(env('TIMEOUT_MS', '5000')), leaseMs: Number(env('LEASE_MS', '30000')) });
// Nothing may pass unlimited unnoticed: a store failure is printed, and the test fails on it.
const onStoreError = (failure: { reason: string }): void => void process.stderr.write(`store failure: ${failure.reason}\n`);

const gateway = createGateway({ use: [] })
  .mount(service({ name: 'api', prefix: '/api', use: [rateLimit({ name: 'global', key: byHeader('x-user'), limits: [tokenBucket({ rate: 1, per: '1d', burst: Number(env('QUOTA', '100')), name: 'global' })], store, failure: 'closed', onStoreError })] }, [get('/ping')]), [env('UPSTREAM')])
  .mount(service({ name: 'slots', prefix: '/slots', use: [concurrencyLimit({ name: 'slots', max: 2, store, failure: 'closed', onStoreError })] }, [get('/hold'), get('/fast')]), [env('UPSTREAM')])
  .build();
const app = express();
app.use(expressGateway(gateway));
const server = createServer(app);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
});
