import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, refusedOrigin } from '@apigate/test-utils/http';
import { jwt, type CachedJwks, type JwksCacheStore, type JwtOptions } from '../src/index.ts';
import { b64, makeKey, refusal, sign, startGateway, startJwks, upstreamSaw, type JwksServer, type TestGateway, type TestKey } from './helpers.ts';

const invalidToken = 'Bearer realm="api", error="invalid_token"';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let first: TestKey;
let second: TestKey;
let stranger: TestKey;
let jwks: JwksServer;

beforeAll(async () => {
  [first, second, stranger] = await Promise.all([makeKey('RS256', 'key-1'), makeKey('ES256', 'key-2'), makeKey('RS256', 'stranger')]);
  jwks = await startJwks([first.publicJwk]);
});

afterAll(async () => {
  await jwks.close();
});

afterEach(async () => {
  jwks.release();
  jwks.mode = 'ok';
  jwks.keys = [first.publicJwk];
  // Every fetch answered `connection: close` or was aborted: nothing stays open to the key server.
  await eventually('the JWKS server holds no connection', async () => (await jwks.connections()) === 0);
});

/** A gateway behind jwt() on the loopback JWKS, for one case. */
const withGateway = async (options: Omit<JwtOptions, 'jwks'>, run: (g: TestGateway) => Promise<void>, url = jwks.url): Promise<void> => {
  const g = await startGateway([jwt({ jwks: url, ...options })]);
  try {
    await run(g);
  } finally {
    await g.close();
  }
};

const refused = async (g: TestGateway, token: string) => {
  const before = g.upstream.seen.length;
  const reply = await g.get('/api/x', bearer(token));
  return { ...refusal(reply), retryAfter: reply.headers['retry-after'], upstreamRequests: g.upstream.seen.length - before, busy: g.busy() };
};

describe('jwt() with a remote JWKS', () => {
  it('fetches the key set once, before gateway.ready() resolves, and verifies with it', async () => {
    const before = jwks.fetches();
    await withGateway({}, async (g) => {
      await g.gateway.ready();
      expect(jwks.fetches() - before).toBe(1);
      for (let i = 0; i < 3; i++) expect(upstreamSaw(await g.get('/api/x', bearer(await sign({ sub: `u${i}` }, first)))).headers.authorization).toBeUndefined();
    });
    expect(jwks.fetches() - before).toBe(1);
  });

  it('a flood of unknown kids makes at most one fetch per cooldown, and each is refused 401 invalid_token', async () => {
    const before = jwks.fetches();
    await withGateway({ jwksCache: { cooldown: 600_000 } }, async (g) => {
      expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
      const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => sign({ sub: 'x' }, stranger, { header: { kid: `random-${i}-${Math.random()}` } })));
      const replies = await Promise.all(tokens.map((token) => refused(g, token)));
      const sequential = [];
      for (const token of tokens.slice(0, 10)) sequential.push(await refused(g, token));
      expect(new Set([...replies, ...sequential].map((reply) => JSON.stringify(reply)))).toEqual(new Set([JSON.stringify({ status: 401, code: 'invalid_token', challenge: invalidToken, upstreamRequests: 0, busy: 0 })]));
    });
    // The prefetch started the cooldown: no unknown kid fetches again within it.
    expect(jwks.fetches() - before).toBe(1);
  });

  it('a flood of unknown kids over several cooldowns fetches at most once per cooldown', async () => {
    const cooldown = 200;
    await withGateway({ jwksCache: { cooldown } }, async (g) => {
      await g.gateway.ready();
      const before = jwks.fetches();
      const started = Date.now();
      const codes = new Set<string | undefined>();
      for (let round = 0; round < 15; round++) {
        const tokens = await Promise.all(Array.from({ length: 20 }, () => sign({ sub: 'x' }, stranger, { header: { kid: crypto.randomUUID() } })));
        for (const reply of await Promise.all(tokens.map((token) => refused(g, token)))) codes.add(reply.code);
      }
      const elapsed = Date.now() - started;
      expect(codes).toEqual(new Set(['invalid_token']));
      // An upper bound from the time the flood really took: a slow machine only allows more.
      expect(jwks.fetches() - before).toBeLessThanOrEqual(Math.floor(elapsed / cooldown) + 1);
    });
  });

  it('follows a key rotation: a new kid is fetched, a retired one refused once the set no longer has it', async () => {
    await withGateway({ jwksCache: { cooldown: 0 } }, async (g) => {
      const old = await sign({ sub: 'old' }, first);
      expect((await g.get('/api/x', bearer(old))).status).toBe(200);
      jwks.keys = [second.publicJwk];
      const before = jwks.fetches();
      expect(upstreamSaw(await g.get('/api/x', bearer(await sign({ sub: 'new' }, second)))).headers['x-seen-claims']).toContain('"sub":"new"');
      expect(jwks.fetches() - before).toBe(1);
      expect(await refused(g, old)).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, retryAfter: undefined, upstreamRequests: 0, busy: 0 });
    });
  });

  it('never builds a URL from the kid: a traversal kid is one more unknown kid', async () => {
    await withGateway({}, async (g) => {
      const token = await sign({ sub: 'a' }, stranger, { header: { kid: '../../admin/keys?x=1#' } });
      expect(await refused(g, token)).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, retryAfter: undefined, upstreamRequests: 0, busy: 0 });
      expect(new Set(jwks.paths)).toEqual(new Set(['/jwks.json']));
    });
  });

  it.each<[string, () => Promise<string>]>([
    ['HS256 signed with the PEM of a key in the set', async () => sign({ sub: 'admin' }, new TextEncoder().encode(first.publicPem), { header: { kid: first.kid } })],
    ['HS256 signed with the JWK of a key in the set', async () => sign({ sub: 'admin' }, new TextEncoder().encode(JSON.stringify(first.publicJwk)), { header: { kid: first.kid } })],
    ['alg none', async () => `${b64({ alg: 'none', kid: first.kid })}.${b64({ sub: 'admin', exp: 9999999999 })}.${b64('x')}`],
    ['a 1 MiB token', async () => `${b64({ alg: 'RS256', kid: 'k' })}.${'A'.repeat(1024 * 1024)}.${b64('sig')}`],
  ])('refuses %s before any key is looked up: 401 invalid_token, no fetch', async (_what, make) => {
    const token = await make();
    const before = jwks.fetches();
    const g = await startGateway([jwt({ jwks: jwks.url, jwksCache: { prefetch: false } })], [], { maxHeaderSize: 2 * 1024 * 1024 });
    try {
      expect(await refused(g, token)).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, retryAfter: undefined, upstreamRequests: 0, busy: 0 });
    } finally {
      await g.close();
    }
    expect(jwks.fetches() - before).toBe(0);
  });

  describe('when the key set cannot be had: 503 auth_unavailable with Retry-After, no challenge, the upstream spared', () => {
    const unavailable = { status: 503, code: 'auth_unavailable', challenge: undefined, retryAfter: '1', upstreamRequests: 0, busy: 0 };

    it.each([
      ['answers 500', 'down'],
      ['answers JSON that is no key set', 'garbage'],
      ['answers HTML', 'html'],
      ['answers without end (chunked): the read stops at 1 MiB', 'huge'],
      ['declares 64 MiB', 'huge-declared'],
    ] as const)('the endpoint %s', async (_what, mode) => {
      jwks.mode = mode;
      const hungUp = jwks.hungUp();
      await withGateway({ jwksCache: { prefetch: false } }, async (g) => {
        expect(await refused(g, await sign({ sub: 'a' }, first))).toEqual(unavailable);
      });
      // The gateway hung up rather than read on, and no connection to the IdP stays open.
      await eventually('the JWKS connection is closed', async () => (await jwks.connections()) === 0);
      if (mode.startsWith('huge')) await eventually('the gateway hung up on the answer', () => jwks.hungUp() - hungUp === 1);
      else expect(jwks.hungUp()).toBe(hungUp);
    });

    it('the endpoint refuses connections', async () => {
      await withGateway({ jwksCache: { prefetch: false } }, async (g) => expect(await refused(g, await sign({ sub: 'a' }, first))).toEqual(unavailable), `${refusedOrigin}/jwks.json`);
    });

    it('the endpoint is slower than the fetch timeout: the fetch is aborted, the request answered', async () => {
      jwks.mode = 'stall';
      await withGateway({ jwksCache: { timeout: 300, prefetch: false } }, async (g) => {
        const token = await sign({ sub: 'a' }, first);
        const reply = refused(g, token);
        await eventually('the JWKS fetch is held', () => jwks.held() === 1);
        // Only the timeout can end this request: the server holds the fetch until afterEach.
        expect(await reply).toEqual(unavailable);
      });
    });

    it('while it stays down, requests are answered without asking it again for failureCooldown', async () => {
      jwks.mode = 'down';
      const before = jwks.fetches();
      await withGateway({ jwksCache: { failureCooldown: 600_000, prefetch: false } }, async (g) => {
        const token = await sign({ sub: 'a' }, first);
        const replies = [];
        for (let i = 0; i < 10; i++) replies.push(await refused(g, token));
        expect(new Set(replies.map((reply) => reply.code))).toEqual(new Set(['auth_unavailable']));
        expect(replies[0]!.retryAfter).toBe('600');
        expect(jwks.fetches() - before).toBe(1);
      });
    });

    it('recovers when the endpoint is back', async () => {
      jwks.mode = 'down';
      await withGateway({ jwksCache: { failureCooldown: 0, prefetch: false } }, async (g) => {
        const token = await sign({ sub: 'a' }, first);
        expect((await refused(g, token)).code).toBe('auth_unavailable');
        jwks.mode = 'ok';
        expect((await g.get('/api/x', bearer(token))).status).toBe(200);
      });
    });
  });

  describe('at startup', () => {
    it('an IdP that is down is reported once and does not fail gateway.ready(); requests are answered 503 until it is back', async () => {
      jwks.mode = 'down';
      const failures: string[] = [];
      const g = await startGateway([jwt({ jwks: jwks.url, jwksCache: { failureCooldown: 0 } })], [], { observer: { callbackFailed: (failure) => void failures.push(failure.callback) } });
      try {
        await expect(g.gateway.ready()).resolves.toBeUndefined();
        expect(failures).toEqual(['jwt.background']);
        const token = await sign({ sub: 'a' }, first);
        expect((await refused(g, token)).code).toBe('auth_unavailable');
        jwks.mode = 'ok';
        expect((await g.get('/api/x', bearer(token))).status).toBe(200);
      } finally {
        await g.close();
      }
    });

    it('an IdP that stalls holds gateway.ready() no longer than the fetch timeout', async () => {
      jwks.mode = 'stall';
      const failures: unknown[] = [];
      const g = await startGateway([jwt({ jwks: jwks.url, jwksCache: { timeout: 300 } })], [], { observer: { callbackFailed: (failure) => void failures.push(failure.error) } });
      try {
        await eventually('the prefetch is held', () => jwks.held() === 1);
        // Only the timeout can resolve this: the server holds the fetch until afterEach.
        await g.gateway.ready();
        expect(failures.map((error) => (error as Error).name)).toEqual(['TimeoutError']);
      } finally {
        await g.close();
      }
    });

    it('prefetch: false fetches on the first request instead', async () => {
      const before = jwks.fetches();
      await withGateway({ jwksCache: { prefetch: false } }, async (g) => {
        await g.gateway.ready();
        expect(jwks.fetches() - before).toBe(0);
        expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
        expect(jwks.fetches() - before).toBe(1);
      });
    });
  });

  describe('stale-if-error: the last good set keeps serving while the IdP is unusable', () => {
    // maxAge 0: every request wants a fresh set, so every one meets the outage.
    const stale = { maxAge: 0, failureCooldown: 0, staleIfError: 600_000 };

    it.each([['answers 500', 'down'], ['answers JSON that is no key set', 'garbage'], ['answers HTML', 'html']] as const)('the endpoint %s: tokens of the last good set pass, the IdP is asked again each time', async (_what, mode) => {
      await withGateway({ jwksCache: stale }, async (g) => {
        await g.gateway.ready();
        jwks.mode = mode;
        const before = jwks.fetches();
        for (let i = 0; i < 3; i++) expect(upstreamSaw(await g.get('/api/x', bearer(await sign({ sub: `u${i}` }, first)))).headers['x-seen-claims']).toContain(`"sub":"u${i}"`);
        expect(jwks.fetches() - before).toBe(3);
      });
    });

    it('the endpoint refuses connections once the set was fetched', async () => {
      const own = await startJwks([first.publicJwk]);
      const g = await startGateway([jwt({ jwks: own.url, jwksCache: stale })]);
      try {
        await g.gateway.ready();
        await own.close();
        expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
      } finally {
        await g.close();
      }
    });

    it('the endpoint stalls: the request waits only the fetch timeout, then the last good set answers', async () => {
      await withGateway({ jwksCache: { ...stale, timeout: 300 } }, async (g) => {
        await g.gateway.ready();
        jwks.mode = 'stall';
        const reply = g.get('/api/x', bearer(await sign({ sub: 'a' }, first)));
        await eventually('the refresh is held', () => jwks.held() === 1);
        expect((await reply).status).toBe(200);
      });
    });

    it('within failureCooldown the IdP is not asked again: one fetch, every request served stale', async () => {
      await withGateway({ jwksCache: { ...stale, failureCooldown: 600_000 } }, async (g) => {
        await g.gateway.ready();
        jwks.mode = 'down';
        const before = jwks.fetches();
        const statuses = [];
        for (let i = 0; i < 5; i++) statuses.push((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status);
        expect({ statuses, fetches: jwks.fetches() - before }).toEqual({ statuses: [200, 200, 200, 200, 200], fetches: 1 });
      });
    });

    it('a kid the stale set lacks is 503, not 401: it may be a key the IdP rotated in', async () => {
      await withGateway({ jwksCache: { ...stale, cooldown: 0 } }, async (g) => {
        await g.gateway.ready();
        jwks.mode = 'down';
        expect(await refused(g, await sign({ sub: 'a' }, second))).toEqual({ status: 503, code: 'auth_unavailable', challenge: undefined, retryAfter: '1', upstreamRequests: 0, busy: 0 });
      });
    });

    it('staleIfError 0: no stale serving, 503 as soon as the set is past maxAge', async () => {
      await withGateway({ jwksCache: { ...stale, staleIfError: 0 } }, async (g) => {
        await g.gateway.ready();
        jwks.mode = 'down';
        expect((await refused(g, await sign({ sub: 'a' }, first))).code).toBe('auth_unavailable');
      });
    });

    it('the stale set is bounded: once past maxAge + staleIfError, 503 auth_unavailable', async () => {
      await withGateway({ jwksCache: { ...stale, staleIfError: 300 } }, async (g) => {
        await g.gateway.ready();
        jwks.mode = 'down';
        const token = await sign({ sub: 'a' }, first);
        await eventually('the stale set is past its bound', async () => (await refused(g, token)).code === 'auth_unavailable');
        expect(await refused(g, token)).toEqual({ status: 503, code: 'auth_unavailable', challenge: undefined, retryAfter: '1', upstreamRequests: 0, busy: 0 });
      });
    });
  });

  describe('a shared cache store', () => {
    const mapStore = (): JwksCacheStore & { entries: Map<string, CachedJwks>; gets: number } => {
      const entries = new Map<string, CachedJwks>();
      const store = {
        entries,
        gets: 0,
        get: async (url: string) => {
          store.gets++;
          return entries.get(url);
        },
        set: async (url: string, entry: CachedJwks) => void entries.set(url, structuredClone(entry)),
      };
      return store;
    };

    it('a second verifier of the URL takes the set from the store: no fetch', async () => {
      const store = mapStore();
      const before = jwks.fetches();
      await withGateway({ jwksCache: { store } }, async (g) => {
        await g.gateway.ready();
        expect(store.entries.get(jwks.url)?.jwks).toEqual({ keys: [first.publicJwk] });
      });
      await withGateway({ jwksCache: { store } }, async (g) => {
        expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
      });
      expect(jwks.fetches() - before).toBe(1);
    });

    it('a set in the store older than maxAge is not used: the verifier fetches and writes the new one', async () => {
      const store = mapStore();
      store.entries.set(jwks.url, { jwks: { keys: [stranger.publicJwk] }, uat: Date.now() - 3_600_000 });
      const before = jwks.fetches();
      await withGateway({ jwksCache: { store } }, async (g) => {
        expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
      });
      expect({ fetches: jwks.fetches() - before, stored: store.entries.get(jwks.url)?.jwks }).toEqual({ fetches: 1, stored: { keys: [first.publicJwk] } });
    });

    it('on an unknown kid, a newer set another verifier stored is taken before the network', async () => {
      const store = mapStore();
      await withGateway({ jwksCache: { store, cooldown: 0 } }, async (g) => {
        await g.gateway.ready();
        const before = jwks.fetches();
        // Another worker fetched after a rotation and stored it.
        store.entries.set(jwks.url, { jwks: { keys: [first.publicJwk, second.publicJwk] }, uat: Date.now() + 1 });
        expect((await g.get('/api/x', bearer(await sign({ sub: 'new' }, second)))).status).toBe(200);
        expect(jwks.fetches() - before).toBe(0);
      });
    });

    it.each<[string, () => JwksCacheStore]>([
      ['holds garbage', () => ({ get: () => ({ jwks: { keys: 'no' }, uat: Date.now() }) as unknown as CachedJwks, set: () => undefined })],
      ['throws', () => ({ get: () => Promise.reject(new Error('kv down')), set: () => Promise.reject(new Error('kv down')) })],
    ])('a store that %s is passed over: the set is fetched', async (_what, make) => {
      const before = jwks.fetches();
      const failures: string[] = [];
      const g = await startGateway([jwt({ jwks: jwks.url, jwksCache: { store: make() } })], [], { observer: { callbackFailed: (failure) => void failures.push(failure.callback) } });
      try {
        expect((await g.get('/api/x', bearer(await sign({ sub: 'a' }, first)))).status).toBe(200);
        expect(jwks.fetches() - before).toBe(1);
        expect(failures.filter((callback) => callback !== 'jwt.background')).toEqual([]);
      } finally {
        await g.close();
      }
    });
  });
});
