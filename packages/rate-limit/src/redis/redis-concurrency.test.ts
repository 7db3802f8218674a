import { createServer, request, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import { expressGateway } from '@apigate/express';
import { closeServer, eventually, listen, refusedOrigin, send, startUpstream, type Upstream } from '@apigate/test-utils/http';
import express from 'express';
import type { Redis } from 'ioredis';
import { concurrencyLimit, type ConcurrencyLimitOptions } from '../concurrency.ts';
import type { StoreFailure } from '../rate-limit.ts';
import { redisStore } from './redis-store.ts';
import { startRedis, storeClient, type RedisServer } from './test-utils/redis-server.ts';

// The sorted set of the limit's leases: `<prefix>{<limiter>:<key>}:concurrency`.
const setKey = 'apigate:rl:{slots:*}:concurrency';

let redis: RedisServer;
let upstream: Upstream;
const held: ServerResponse[] = [];
const open: { close(): Promise<void> }[] = [];

const release = (): void => void held.shift()?.writeHead(200, { 'content-type': 'text/plain' }).end('released');

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startUpstream((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('fast');
  });
});

afterEach(async () => {
  while (held.length > 0) release();
  await Promise.all(open.splice(0).map((instance) => instance.close()));
  await redis.admin.flushall();
});

afterAll(async () => {
  await redis.stop();
  await upstream.close();
});

const denyInside: Middleware = { name: 'deny', request: (ctx) => (ctx.headers.has('x-deny') ? unauthorized() : undefined) };

interface Instance {
  readonly port: number;
  readonly client: Redis;
}

/** One gateway instance with its own Redis client: at most 2 requests in flight across all of them. */
const instance = async (options: Partial<ConcurrencyLimitOptions> & { leaseMs?: number; timeout?: number } = {}): Promise<Instance> => {
  const client = await storeClient(redis.port);
  const { leaseMs, timeout = 2_000, ...limit } = options;
  // Give-backs racing the test's teardown may fail; tests about failures pass their own onStoreError.
  const slots = concurrencyLimit({ name: 'slots', max: 2, store: redisStore({ client, timeout, ...(leaseMs === undefined ? {} : { leaseMs }) }), onStoreError: () => undefined, ...limit });
  const gateway = createGateway()
    .mount(service({ name: 'api', prefix: '/api', use: [slots] }, [get('/hold', { use: [denyInside] }), get('/fast', { use: [denyInside] })]), [upstream.origin])
    .mount(service({ name: 'down', prefix: '/down', use: [slots] }, [get('/any')]), [refusedOrigin])
    .build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server = createServer(app);
  const port = await listen(server);
  open.push({
    close: async () => {
      await closeServer(server);
      handler.transport.close();
      await gateway.close();
      client.disconnect();
    },
  });
  return { port, client };
};

/** A request the upstream holds until the test releases it; resolves once it is held. */
const holding = async (port: number): Promise<{ done: Promise<number>; abort: () => void }> => {
  const before = held.length;
  let abort = (): void => undefined;
  const done = new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/hold', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    abort = () => req.destroy();
    req.end();
  });
  await eventually('the upstream holds the request', () => held.length > before);
  return { done, abort };
};

const leases = async (): Promise<number> => {
  const keys = await redis.admin.keys(setKey);
  return keys.length === 0 ? 0 : redis.admin.zcard(keys[0]!);
};

const fast = async (port: number): Promise<number> => (await send(port, '/api/fast')).status;

describe('concurrencyLimit with the Redis store', () => {
  it('holds max in flight across instances, refuses the next with 429 rate_limited, and frees the place on the response', async () => {
    const a = await instance();
    const b = await instance();
    const first = await holding(a.port);
    const second = await holding(b.port);
    expect(await leases()).toBe(2);
    const refused = await send(a.port, '/api/fast');
    expect({ status: refused.status, code: refused.text.split(':')[0], retryAfter: refused.headers['retry-after'] }).toEqual({ status: 429, code: 'rate_limited', retryAfter: '1' });
    expect(await fast(b.port)).toBe(429);
    release();
    expect(await first.done).toBe(200);
    await eventually('the place is given back in Redis', async () => (await leases()) === 1);
    // Freed by instance a, taken through instance b.
    expect(await fast(b.port)).toBe(200);
    release();
    expect(await second.done).toBe(200);
    await eventually('every place given back', async () => (await leases()) === 0);
  });

  it('frees the place of a request whose client left', async () => {
    const a = await instance();
    const b = await instance();
    const left = await holding(a.port);
    await holding(b.port);
    expect(await fast(b.port)).toBe(429);
    left.abort();
    await left.done;
    // Settled as client_closed on instance a; the place frees for instance b, the upstream still holding.
    await eventually('the place of the aborted request is free', async () => (await fast(b.port)) === 200);
    expect(held.length).toBe(2);
  });

  it('frees the places of upstream failures and of refusals by a middleware inside it', async () => {
    const a = await instance();
    for (let i = 0; i < 3; i++) expect((await send(a.port, '/down/any')).status).toBe(502);
    for (let i = 0; i < 3; i++) expect((await send(a.port, '/api/fast', { headers: { 'x-deny': '1' } })).status).toBe(401);
    await eventually('every place given back', async () => (await leases()) === 0);
    await holding(a.port);
    await holding(a.port);
    expect(await fast(a.port)).toBe(429);
  });

  it('renews the leases of requests in flight, and frees the places of an instance that stopped renewing once they expire', async () => {
    const a = await instance({ leaseMs: 300 });
    const b = await instance({ leaseMs: 300 });
    await holding(a.port);
    await holding(a.port);
    const [keyName] = await redis.admin.keys(setKey);
    expect(keyName).toBeDefined();
    const scores = async (): Promise<number[]> => (await redis.admin.zrange(keyName!, '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    const first = await scores();
    // Held past the lease: renewed, not expired.
    await eventually('the leases were renewed', async () => (await scores()).every((score, i) => score > first[i]! + 300));
    expect(await fast(b.port)).toBe(429);
    // Instance a loses Redis (as in a crash): nothing renews or gives back its places; they expire.
    a.client.disconnect();
    await eventually('the expired places are taken by instance b', async () => (await fast(b.port)) === 200);
  });

  it.each([
    ['open', 200],
    ['closed', 503],
    ['insurance', 200],
  ] as const)('applies failure %s within the store timeout while Redis is paused', async (failure, status) => {
    const failures: StoreFailure[] = [];
    const a = await instance({ failure, timeout: 200, onStoreError: (f) => void failures.push(f) });
    await redis.admin.client('PAUSE', 60_000, 'WRITE');
    try {
      expect(await fast(a.port)).toBe(status);
    } finally {
      await redis.admin.client('UNPAUSE');
    }
    expect(failures.map((f) => [f.reason, f.failure])).toEqual([['timeout', failure]]);
    // The place Redis gave after the limiter stopped waiting is given back, not held to its lease's end.
    await eventually('the late place is given back', async () => (await leases()) === 0);
  });

  it('counts in this process under insurance while Redis is killed, and shares through Redis again once it is back', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ failure: 'insurance', onStoreError: (f) => void failures.push(f) });
    await redis.kill();
    const one = await holding(a.port);
    const two = await holding(a.port);
    expect(await fast(a.port)).toBe(429);
    expect(failures.map((f) => [f.reason, f.failure])).toEqual(Array.from({ length: 3 }, () => ['error', 'insurance']));
    release();
    release();
    await Promise.all([one.done, two.done]);
    await redis.restart();
    await eventually('the store client reconnected', () => a.client.status === 'ready');
    const b = await instance();
    await holding(a.port);
    await holding(b.port);
    expect(await fast(a.port)).toBe(429);
    expect(await leases()).toBe(2);
    expect(failures.length).toBe(3);
  });
});

describe('redisStore leases', () => {
  it('refuses a lease shorter than 100 ms', () => {
    expect(() => redisStore({ url: 'redis://127.0.0.1:1', leaseMs: 10 })).toThrow(/leaseMs/);
  });
});
