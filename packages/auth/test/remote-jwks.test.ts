import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, freePort } from '@apigate/test-utils/http';
import { jwt, type JwtOptions } from '../src/index.ts';
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
  it('fetches the key set once and verifies with it', async () => {
    const before = jwks.fetches();
    await withGateway({}, async (g) => {
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
    // The first request's fetch started the cooldown: no unknown kid fetches again within it.
    expect(jwks.fetches() - before).toBe(1);
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
    const g = await startGateway([jwt({ jwks: jwks.url })], [], { maxHeaderSize: 2 * 1024 * 1024 });
    try {
      expect(await refused(g, token)).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, retryAfter: undefined, upstreamRequests: 0, busy: 0 });
    } finally {
      await g.close();
    }
    expect(jwks.fetches() - before).toBe(0);
  });

  describe('when the key set cannot be had: 503 auth_unavailable with Retry-After, no challenge, the upstream spared', () => {
    const unavailable = { status: 503, code: 'auth_unavailable', challenge: undefined, retryAfter: '1', upstreamRequests: 0, busy: 0 };

    it.each([['answers 500', 'down'], ['answers JSON that is no key set', 'garbage'], ['answers HTML', 'html']] as const)('the endpoint %s', async (_what, mode) => {
      jwks.mode = mode;
      await withGateway({}, async (g) => {
        expect(await refused(g, await sign({ sub: 'a' }, first))).toEqual(unavailable);
      });
    });

    it('the endpoint refuses connections', async () => {
      await withGateway({}, async (g) => expect(await refused(g, await sign({ sub: 'a' }, first))).toEqual(unavailable), `http://127.0.0.1:${await freePort()}/jwks.json`);
    });

    it('the endpoint is slower than the fetch timeout: the fetch is aborted, the request answered', async () => {
      jwks.mode = 'stall';
      await withGateway({ jwksCache: { timeout: 300 } }, async (g) => {
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
      await withGateway({ jwksCache: { failureCooldown: 600_000 } }, async (g) => {
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
      await withGateway({ jwksCache: { failureCooldown: 0 } }, async (g) => {
        const token = await sign({ sub: 'a' }, first);
        expect((await refused(g, token)).code).toBe('auth_unavailable');
        jwks.mode = 'ok';
        expect((await g.get('/api/x', bearer(token))).status).toBe(200);
      });
    });
  });
});
