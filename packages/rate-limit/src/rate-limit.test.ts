import { describe, expect, it } from '@jest/globals';
import type { Middleware, StandaloneResult } from '@apigate/core';
import type { GatewayResponse } from '@apigate/errors';
import { byHeader, byIp, byRoute, byScope, joinKeys } from './keys.ts';
import { fixedWindow, slidingWindow, tokenBucket } from './limits.ts';
import { memoryStore } from './memory-store.ts';
import { rateLimit, type StoreFailure } from './rate-limit.ts';
import type { RateLimitStore } from './store.ts';
import { call, problemOf, type Call } from './test-utils/standalone.ts';

const refusal = (result: StandaloneResult): { status: number; code: string | undefined; headers: GatewayResponse['headers'] } => {
  if (result.next) throw new Error('the request was let through');
  return { status: result.response.status, code: result.error?.code, headers: result.response.headers };
};

const statuses = async (limiter: Middleware, n: number, request: Call = {}): Promise<(number | 'next')[]> => {
  const out: (number | 'next')[] = [];
  for (let i = 0; i < n; i++) {
    const result = await call(limiter, request);
    out.push(result.next ? 'next' : result.response.status);
  }
  return out;
};

const clock = () => {
  let now = 10_000;
  return { store: memoryStore({ now: () => now }), at: (ms: number) => void (now = ms) };
};

describe('rateLimit', () => {
  it('refuses the request over the limit with 429 rate_limited, Retry-After and the RateLimit headers', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 3, window: '1m', name: 'minute' })], store });
    expect(await statuses(limiter, 3)).toEqual(['next', 'next', 'next']);
    const refused = refusal(await call(limiter));
    expect(refused).toEqual({
      status: 429,
      code: 'rate_limited',
      headers: expect.objectContaining({ 'retry-after': '50', 'ratelimit-policy': '"minute";q=3;w=60', ratelimit: '"minute";r=0;t=50' }),
    });
  });

  it('renders a refusal as the quota-exceeded problem type with the problem+json renderer', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [tokenBucket({ rate: 1, per: '1m', burst: 1, name: 'burst' }), fixedWindow({ limit: 5, window: '1m', name: 'minute' })], store });
    expect(await statuses(limiter, 1)).toEqual(['next']);
    const result = await call(limiter, {}, 'problem');
    expect(problemOf(result)).toEqual({
      status: 429,
      type: 'application/problem+json; charset=utf-8',
      retryAfter: '60',
      body: {
        type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
        title: 'Quota Exceeded',
        status: 429,
        detail: 'The rate limit for this resource was reached.',
        instance: '/x',
        code: 'rate_limited',
        retryAfter: 60,
        violatedPolicies: ['burst'],
        'violated-policies': ['burst'],
      },
    });
  });

  it('checks every limit and reports each, with Retry-After from the longest wait of the refusing ones', async () => {
    const c = clock();
    const limiter = rateLimit({
      limits: [tokenBucket({ rate: 1, per: '1s', burst: 2, name: 'burst' }), fixedWindow({ limit: 3, window: '1m', name: 'minute' })],
      store: c.store,
      headers: { style: ['ietf', 'legacy', 'x-ratelimit'] },
    });
    expect(await statuses(limiter, 2)).toEqual(['next', 'next']);
    const burst = refusal(await call(limiter));
    expect(burst.headers).toMatchObject({ 'retry-after': '1', ratelimit: '"burst";r=0;t=2, "minute";r=1;t=50', 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'x-ratelimit-reset': '2' });
    c.at(12_000);
    expect(await statuses(limiter, 1)).toEqual(['next']);
    c.at(14_000);
    // The burst has room again; the minute has none left: its wait (to 60 000) is the one reported.
    const minute = refusal(await call(limiter));
    expect(minute.headers).toMatchObject({ 'retry-after': '46', 'ratelimit-limit': '3', 'ratelimit-remaining': '0', 'ratelimit-reset': '46', ratelimit: '"burst";r=2;t=0, "minute";r=0;t=46' });
  });

  it('never tells a client to come back before the request would pass', async () => {
    const c = clock();
    const limiter = rateLimit({ limits: [slidingWindow({ limit: 5, window: '10s' })], store: c.store });
    c.at(19_999);
    await statuses(limiter, 5);
    for (const start of [20_000, 21_234, 25_001]) {
      c.at(start);
      const result = await call(limiter);
      if (result.next) continue;
      const retryAfter = Number(refusal(result).headers['retry-after']);
      c.at(start + retryAfter * 1000);
      expect(await statuses(limiter, 1)).toEqual(['next']);
    }
  });

  it('spends the cost of a weighted request', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 25, window: '1m' })], store, cost: (ctx) => (ctx.path === '/bulk' ? 10 : 1) });
    expect(await statuses(limiter, 3, { url: '/bulk' })).toEqual(['next', 'next', 429]);
    expect(await statuses(limiter, 6, { url: '/one' })).toEqual(['next', 'next', 'next', 'next', 'next', 429]);
  });

  it('refuses a cost that is not a whole number with 500 internal, and lets a cost of 0 through', async () => {
    const { store } = clock();
    const broken = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store, cost: () => 0.5 });
    expect(refusal(await call(broken))).toMatchObject({ status: 500, code: 'internal' });
    const free = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store, cost: 0 });
    expect(await statuses(free, 3)).toEqual(['next', 'next', 'next']);
  });

  it('keys IPv6 clients by their /56 by default, IPv4 clients by their address', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store });
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:ab01::1' })).toEqual(['next']);
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:abff:ffff::9' })).toEqual([429]);
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:ac00::1' })).toEqual(['next']);
    expect(await statuses(limiter, 1, { clientIp: '198.51.100.1' })).toEqual(['next']);
    expect(await statuses(limiter, 1, { clientIp: '198.51.100.2' })).toEqual(['next']);
    // Without an address the limiter does not apply.
    expect(await statuses(limiter, 3, { clientIp: undefined })).toEqual(['next', 'next', 'next']);
  });

  it('takes another IPv6 prefix length', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store, key: byIp({ ipv6Prefix: 64 }) });
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:ab01::1' })).toEqual(['next']);
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:ab02::1' })).toEqual(['next']);
    expect(await statuses(limiter, 1, { clientIp: '2001:db8:0:ab01:ffff::1' })).toEqual([429]);
  });

  it('keys by a header, with a fallback for requests without it', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store, key: byHeader('X-Api-Key', { fallback: byIp() }) });
    expect(await statuses(limiter, 2, { headers: { 'x-api-key': 'a' } })).toEqual(['next', 429]);
    expect(await statuses(limiter, 1, { headers: { 'x-api-key': 'b' } })).toEqual(['next']);
    expect(await statuses(limiter, 2)).toEqual(['next', 429]);
  });

  it('keys by a scope value that an earlier middleware set, and by several keys joined', async () => {
    const { store } = clock();
    const limiter = rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m' })], store, key: joinKeys([byRoute(), byScope('claims', { select: (c) => (c as { sub: string }).sub })]) });
    expect(await statuses(limiter, 2, { scope: { claims: { sub: 'alice' } } })).toEqual(['next', 429]);
    expect(await statuses(limiter, 1, { scope: { claims: { sub: 'bob' } } })).toEqual(['next']);
    expect(await statuses(limiter, 1, { scope: { claims: { sub: 'alice' } }, url: '/other' })).toEqual(['next']);
    expect(await statuses(limiter, 3)).toEqual(['next', 'next', 'next']);
  });

  it('chooses limits by tier, unlisted tiers getting the default ones and [] none', async () => {
    const { store } = clock();
    const limiter = rateLimit({
      limits: [fixedWindow({ limit: 1, window: '1m', name: 'free' })],
      tiers: { by: 'tier', limits: { pro: [fixedWindow({ limit: 3, window: '1m', name: 'pro' })], internal: [] } },
      key: byHeader('x-user'),
      store,
    });
    expect(await statuses(limiter, 2, { headers: { 'x-user': 'f' }, scope: { tier: 'free' } })).toEqual(['next', 429]);
    expect(await statuses(limiter, 2, { headers: { 'x-user': 'u' }, scope: { tier: 'unknown' } })).toEqual(['next', 429]);
    expect(await statuses(limiter, 4, { headers: { 'x-user': 'p' }, scope: { tier: 'pro' } })).toEqual(['next', 'next', 'next', 429]);
    expect(await statuses(limiter, 5, { headers: { 'x-user': 'i' }, scope: { tier: 'internal' } })).toEqual(['next', 'next', 'next', 'next', 'next']);
    const pro = refusal(await call(limiter, { headers: { 'x-user': 'p' }, scope: { tier: 'pro' } }));
    expect(pro.headers['ratelimit-policy']).toBe('"pro";q=3;w=60');
  });

  it('counts a tier given the default list with the untiered requests, and two tiers sharing another list apart', async () => {
    const { store } = clock();
    const defaults = [fixedWindow({ limit: 1, window: '1m', name: 'minute' })];
    const paid = [fixedWindow({ limit: 1, window: '1m', name: 'minute' })];
    const limiter = rateLimit({ limits: defaults, tiers: { by: 'tier', limits: { pro: defaults, team: paid, staff: paid } }, key: byHeader('x-user'), store });
    const as = async (tier: string) => (await statuses(limiter, 1, { headers: { 'x-user': 'same' }, scope: { tier } }))[0];
    expect([await as('free'), await as('pro'), await as('team'), await as('staff'), await as('team')]).toEqual(['next', 429, 'next', 'next', 429]);
  });

  it('refuses limits that share a name', () => {
    expect(() => rateLimit({ limits: [fixedWindow({ limit: 1, window: '1m', name: 'a' }), tokenBucket({ rate: 1, name: 'a' })] })).toThrow(/named "a"/);
    expect(() => fixedWindow({ limit: 0, window: '1m' })).toThrow(/limit/);
    expect(() => tokenBucket({ rate: 1, per: '1 minute' as never })).toThrow(/per/);
  });

  it('describes its limits for gateway.routes()', () => {
    const limiter = rateLimit({ name: 'api', limits: [tokenBucket({ rate: 10, burst: 20, name: 'burst' })] });
    expect(limiter.describe).toEqual({ 'rate-limit': { name: 'api', limits: [{ name: 'burst', algorithm: 'token-bucket', quota: 20, windowSeconds: 2 }] } });
  });
});

describe('rateLimit when the store fails', () => {
  const limits = [fixedWindow({ limit: 1, window: '1m' })];
  const throwing: RateLimitStore = {
    consume: () => {
      throw new Error('store down');
    },
  };
  const rejecting: RateLimitStore = { consume: () => Promise.reject(new Error('connection lost')) };
  // Never answers: only the limiter's timeout ends the wait.
  const silent: RateLimitStore = { timeout: 20, consume: () => new Promise(() => undefined) };

  it.each([
    ['throws', throwing, 'error'],
    ['rejects', rejecting, 'error'],
    ['does not answer within its timeout', silent, 'timeout'],
  ] as const)('lets the request through by default when the store %s, and reports it', async (_, store, reason) => {
    const failures: StoreFailure[] = [];
    const limiter = rateLimit({ name: 'api', limits, store, onStoreError: (failure) => void failures.push(failure) });
    expect(await statuses(limiter, 2)).toEqual(['next', 'next']);
    expect(failures.map((f) => [f.limiter, f.reason, f.failure])).toEqual([
      ['api', reason, 'open'],
      ['api', reason, 'open'],
    ]);
  });

  it.each([
    ['throws', throwing],
    ['does not answer within its timeout', silent],
  ] as const)('refuses with 503 service_unavailable when it fails closed and the store %s', async (_, store) => {
    const failures: StoreFailure[] = [];
    const limiter = rateLimit({ limits, store, failure: 'closed', onStoreError: (failure) => void failures.push(failure) });
    expect(refusal(await call(limiter))).toEqual({ status: 503, code: 'service_unavailable', headers: expect.objectContaining({ 'retry-after': '1' }) });
    expect(failures.map((f) => f.failure)).toEqual(['closed']);
  });

  it.each([
    ['throws', throwing, 'error'],
    ['does not answer within its timeout', silent, 'timeout'],
  ] as const)('limits with its local insurance when the store %s, and reports it', async (_, store, reason) => {
    const failures: StoreFailure[] = [];
    const local = memoryStore({ now: () => 10_000 });
    const limiter = rateLimit({ name: 'api', limits: [fixedWindow({ limit: 2, window: '1m', name: 'minute' })], store, failure: 'insurance', insurance: { store: local }, onStoreError: (f) => void failures.push(f) });
    expect(await statuses(limiter, 3)).toEqual(['next', 'next', 429]);
    // Another key has its own local count.
    expect(await statuses(limiter, 1, { clientIp: '198.51.100.9' })).toEqual(['next']);
    expect(refusal(await call(limiter)).headers).toMatchObject({ 'retry-after': '50', ratelimit: '"minute";r=0;t=50' });
    expect(failures.map((f) => [f.limiter, f.reason, f.failure])).toEqual(Array.from({ length: 5 }, () => ['api', reason, 'insurance']));
  });

  it("gives each instance its share of every quota under insurance, the token bucket's rate too", async () => {
    let now = 0;
    const limiter = rateLimit({
      limits: [tokenBucket({ rate: 6, per: '1m', burst: 6, name: 'burst' }), fixedWindow({ limit: 10, window: '1h', name: 'hourly' })],
      store: throwing,
      failure: 'insurance',
      insurance: { store: memoryStore({ now: () => now }), instances: 3 },
      onStoreError: () => undefined,
    });
    // burst 6 / 3 = 2, refilled at 2 a minute; hourly 10 / 3 = 3.
    expect(await statuses(limiter, 3)).toEqual(['next', 'next', 429]);
    now = 29_999;
    expect(await statuses(limiter, 1)).toEqual([429]);
    now = 30_000;
    expect(await statuses(limiter, 2)).toEqual(['next', 429]);
    now = 90_000;
    const refused = refusal(await call(limiter));
    expect(refused.headers).toMatchObject({ 'ratelimit-policy': '"burst";q=2;w=60, "hourly";q=3;w=3600' });
  });

  it('refuses an insurance share that is not a positive whole number', () => {
    expect(() => rateLimit({ limits, failure: 'insurance', insurance: { instances: 0 } })).toThrow(/instances/);
  });

  it('goes on when the report itself throws', async () => {
    const limiter = rateLimit({
      limits,
      store: throwing,
      onStoreError: () => {
        throw new Error('report failed');
      },
    });
    expect(await statuses(limiter, 1)).toEqual(['next']);
  });
});
