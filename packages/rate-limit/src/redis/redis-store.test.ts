import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { closeServer, eventually, listen, send, startUpstream, type Upstream } from '@apigate/test-utils/http';
import express from 'express';
import type { Redis } from 'ioredis';
import { byHeader } from '../keys.ts';
import { fixedWindow, slidingWindow, tokenBucket, type Limit } from '../limits.ts';
import { rateLimit, type RateLimitOptions, type StoreFailure } from '../rate-limit.ts';
import type { LimitCheck } from '../store.ts';
import { redisStore } from './redis-store.ts';
import { requireRedisServer, startRedis, storeClient, type RedisServer } from './test-utils/redis-server.ts';

/** One gateway instance: an Express app with its own Redis client and store, on its own port. */
interface Instance {
  readonly port: number;
  readonly client: Redis;
  close(): Promise<void>;
}

let redis: RedisServer;
let upstream: Upstream;
const open: Instance[] = [];

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startUpstream();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((instance) => instance.close()));
  await redis.admin.flushall();
});

afterAll(async () => {
  await redis.stop();
  await upstream.close();
});

const instance = async (options: Omit<RateLimitOptions, 'store'> & { timeout?: number; prefix?: string }): Promise<Instance> => {
  const client = await storeClient(redis.port);
  const { timeout = 2_000, prefix, ...limiter } = options;
  const gateway = createGateway({ use: [rateLimit({ ...limiter, store: redisStore({ client, timeout, ...(prefix === undefined ? {} : { prefix }) }) })] })
    .mount(service({ name: 'api', prefix: '/api' }, [get('/ping')]), [upstream.origin])
    .build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server: Server = createServer(app);
  const port = await listen(server);
  const made: Instance = {
    port,
    client,
    close: async () => {
      await closeServer(server);
      handler.transport.close();
      await gateway.close();
      client.disconnect();
    },
  };
  open.push(made);
  return made;
};

const hit = async (target: Instance, user = 'u1'): Promise<{ status: number; code: string | undefined; retryAfter: string | undefined; ratelimit: string | undefined }> => {
  const reply = await send(target.port, '/api/ping', { headers: { 'x-user': user } });
  return { status: reply.status, code: reply.status === 200 ? undefined : /^(\w+):/.exec(reply.text)?.[1], retryAfter: reply.headers['retry-after'] as string | undefined, ratelimit: reply.headers.ratelimit as string | undefined };
};

const statuses = async (targets: readonly Instance[], n: number, user = 'u1'): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await hit(targets[i % targets.length]!, user)).status);
  return out;
};

describe('redisStore', () => {
  it('shares one limit between two gateway instances, each with its own client', async () => {
    const options = { key: byHeader('x-user'), limits: [fixedWindow({ limit: 5, window: '1h', name: 'hourly' })] };
    const a = await instance(options);
    const b = await instance(options);
    const before = upstream.seen.length;
    expect(await statuses([a, b], 7)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const refused = await hit(b);
    expect(refused).toMatchObject({ status: 429, code: 'rate_limited', ratelimit: expect.stringMatching(/^"hourly";r=0;t=\d+$/) });
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // Another key has its own limit; the upstream saw only the admitted requests.
    expect(await statuses([a, b], 2, 'u2')).toEqual([200, 200]);
    expect(upstream.seen.length - before).toBe(7);
  });

  it('decides a token bucket and a sliding window as the memory store does, all or nothing', async () => {
    const a = await instance({ key: byHeader('x-user'), limits: [tokenBucket({ rate: 1, per: '1h', burst: 3, name: 'burst' }), slidingWindow({ limit: 2, window: '1h', name: 'hourly' })] });
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    const refused = await hit(a);
    // The burst was not spent by the refused requests: one token of three left.
    expect(refused.ratelimit).toMatch(/^"burst";r=1;t=\d+, "hourly";r=0;t=\d+$/);
  });

  it('writes hash-tagged keys, each with an expiry', async () => {
    const a = await instance({ name: 'api', key: byHeader('x-user'), limits: [fixedWindow({ limit: 5, window: '1m', name: 'minute' }), tokenBucket({ rate: 1, name: 'burst' })], prefix: 'test:' });
    await hit(a, 'alice');
    const keys = (await redis.admin.keys('test:*')).sort();
    // The tier is empty (no tiers): `::` before the limit's name.
    expect(keys).toEqual(['test:{api:header:x-user:alice}::burst', 'test:{api:header:x-user:alice}::minute']);
    for (const key of keys) expect(await redis.admin.pttl(key)).toBeGreaterThan(0);
  });

  it('loads the script again when Redis has lost it (NOSCRIPT), without failing the request', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 2, window: '1h' })], onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 1)).toEqual([200]);
    await redis.admin.script('FLUSH');
    await redis.admin.config('RESETSTAT');
    expect(await statuses([a], 2)).toEqual([200, 429]);
    const stats = String(await redis.admin.info('commandstats'));
    expect(/cmdstat_eval:calls=1,/.test(stats)).toBe(true);
    expect(failures).toEqual([]);
  });

  it('fails open within the store timeout while Redis is paused, and reports it', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 1, window: '1h' })], timeout: 200, onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 2)).toEqual([200, 429]);
    // Redis holds every write command for far longer than the store waits; the test ends the pause.
    await redis.admin.client('PAUSE', 60_000, 'WRITE');
    try {
      expect(await statuses([a], 2)).toEqual([200, 200]);
    } finally {
      await redis.admin.client('UNPAUSE');
    }
    expect(failures.map((f) => [f.reason, f.failure])).toEqual([
      ['timeout', 'open'],
      ['timeout', 'open'],
    ]);
  });

  it('fails closed by option: 503 service_unavailable while Redis is paused', async () => {
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 5, window: '1h' })], timeout: 200, failure: 'closed', onStoreError: () => undefined });
    await redis.admin.client('PAUSE', 60_000, 'WRITE');
    try {
      expect(await hit(a)).toMatchObject({ status: 503, code: 'service_unavailable', retryAfter: '1' });
    } finally {
      await redis.admin.client('UNPAUSE');
    }
  });

  it('falls back on its local insurance while Redis is paused past the timeout, and on Redis again after', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 3, window: '1h', name: 'hourly' })], timeout: 200, failure: 'insurance', onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 2)).toEqual([200, 200]);
    await redis.admin.client('PAUSE', 60_000, 'WRITE');
    try {
      // The insurance counts on its own, from zero: three pass, the fourth is refused, each in the timeout.
      expect(await statuses([a], 4)).toEqual([200, 200, 200, 429]);
      expect(await hit(a)).toMatchObject({ status: 429, code: 'rate_limited', ratelimit: expect.stringMatching(/^"hourly";r=0;t=\d+$/) });
    } finally {
      await redis.admin.client('UNPAUSE');
    }
    expect(failures.map((f) => [f.reason, f.failure])).toEqual(Array.from({ length: 5 }, () => ['timeout', 'insurance']));
    // The commands the store gave up on still ran once Redis resumed: they spent its last unit.
    // Redis decides again (no further failure) and holds the limit that the insurance kept locally.
    expect(await statuses([a], 1)).toEqual([429]);
    expect((await redis.admin.get('apigate:rl:{rate-limit:header:x-user:u1}::hourly'))?.split(':')[1]).toBe('3');
    expect(await statuses([a], 4, 'u2')).toEqual([200, 200, 200, 429]);
    expect(failures.length).toBe(5);
  });

  it('falls back on its local insurance when Redis is killed, and limits through Redis again once it is back (NOSCRIPT)', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 2, window: '1h' })], failure: 'insurance', onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    await redis.kill();
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    expect(failures.map((f) => [f.reason, f.failure])).toEqual(Array.from({ length: 3 }, () => ['error', 'insurance']));
    await redis.restart();
    await eventually('the store client reconnected', () => a.client.status === 'ready');
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    expect(failures.length).toBe(3);
    expect(/cmdstat_eval:calls=1,/.test(String(await redis.admin.info('commandstats')))).toBe(true);
  });

  it('fails closed when Redis is killed, and limits again once it is back', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 2, window: '1h' })], failure: 'closed', onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 1)).toEqual([200]);
    await redis.kill();
    expect(await hit(a)).toMatchObject({ status: 503, code: 'service_unavailable', retryAfter: '1' });
    expect(failures.map((f) => [f.reason, f.failure])).toEqual([['error', 'closed']]);
    await redis.restart();
    await eventually('the store client reconnected', () => a.client.status === 'ready');
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
  });

  it('fails open when Redis is killed, and limits again once it is back (the script loaded anew)', async () => {
    const failures: StoreFailure[] = [];
    const a = await instance({ key: byHeader('x-user'), limits: [fixedWindow({ limit: 2, window: '1h' })], onStoreError: (f) => void failures.push(f) });
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    await redis.kill();
    expect(await statuses([a], 3)).toEqual([200, 200, 200]);
    expect(failures.length).toBe(3);
    expect(failures.every((f) => f.reason === 'error' && f.failure === 'open')).toBe(true);
    await redis.restart();
    await eventually('the store client reconnected', () => a.client.status === 'ready');
    // A fresh Redis: no counts and no script; the limit applies again from zero, the script sent
    // once with EVAL after EVALSHA met NOSCRIPT.
    expect(await statuses([a], 3)).toEqual([200, 200, 429]);
    expect(failures.length).toBe(3);
    expect(/cmdstat_eval:calls=1,/.test(String(await redis.admin.info('commandstats')))).toBe(true);
  });
});

describe('the Redis test setup', () => {
  it('fails with a clear message, never skips, when redis-server is not installed', () => {
    expect(() => requireRedisServer({ PATH: '/nonexistent' })).toThrow(/redis-server is not installed.*apt-get install -y redis-server/);
  });
});

describe('RedisStore', () => {
  it('takes a client or a url, not both or neither', () => {
    expect(() => redisStore({})).toThrow(/client or a url/);
    expect(() => redisStore({ url: 'redis://127.0.0.1:1', client: {} as Redis })).toThrow(/client or a url/);
  });

  it('closes the client it made from a url, once', async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${redis.port}` });
    const check: LimitCheck = { subject: 's', id: ':x', limit: fixedWindow({ limit: 1, window: '1m' }) as Limit, cost: 1 };
    await eventually('the store client is ready', async () => (await store.consume([check]).then(() => true, () => false)));
    const closing = store.close();
    expect(store.close()).toBe(closing);
    await closing;
    await expect(Promise.resolve().then(() => store.consume([check]))).rejects.toThrow();
  });
});
