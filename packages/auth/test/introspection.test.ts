import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { eventually, refusedOrigin } from '@apigate/test-utils/http';
import { introspection, requireScopes, type IntrospectionOptions } from '../src/index.ts';
import { buildProblems, introspectionClient, refusal, startGateway, startIntrospection, upstreamSaw, type IntrospectionServer, type TestGateway } from './helpers.ts';

const realmOnly = 'Bearer realm="api"';
const invalidToken = 'Bearer realm="api", error="invalid_token"';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const now = (): number => Math.floor(Date.now() / 1000);

let idp: IntrospectionServer;

beforeAll(async () => {
  idp = await startIntrospection();
});

afterAll(async () => {
  await idp.close();
});

beforeEach(() => {
  idp.tokens.clear();
  idp.tokens.set('good-token', { active: true, sub: 'alice', scope: 'orders:read profile', client_id: 'spa', iss: 'https://idp.example/', aud: 'orders', exp: now() + 3600 });
});

afterEach(async () => {
  idp.release();
  idp.mode = 'ok';
  await eventually('the introspection server holds no connection', async () => (await idp.connections()) === 0);
});

const client = { clientId: introspectionClient.id, clientSecret: introspectionClient.secret };

/** A gateway behind introspection() on the loopback endpoint, for one case. */
const withGateway = async (options: Partial<IntrospectionOptions>, run: (g: TestGateway) => Promise<void>, routeUse = [] as Parameters<typeof startGateway>[1]): Promise<void> => {
  const g = await startGateway([introspection({ endpoint: idp.url, ...client, ...options } as IntrospectionOptions)], routeUse, { maxHeaderSize: 2 * 1024 * 1024 });
  try {
    await run(g);
  } finally {
    await g.close();
  }
};

/** A refusal, how many calls reached the endpoint, and whether the upstream was spared. */
const refused = async (g: TestGateway, headers: Record<string, string>, path = '/api/x') => {
  const before = { upstream: g.upstream.seen.length, calls: idp.calls.length };
  const reply = await g.get(path, headers);
  return { ...refusal(reply), retryAfter: reply.headers['retry-after'], calls: idp.calls.length - before.calls, upstreamRequests: g.upstream.seen.length - before.upstream, busy: g.busy() };
};

describe('introspection() (RFC 7662)', () => {
  it('passes an active token: the answer lands in scope as claims, mapped fields go upstream, the Authorization does not', async () => {
    await withGateway({ claimHeaders: { sub: 'x-user-id', client_id: 'x-client-id' } }, async (g) => {
      const echo = upstreamSaw(await g.get('/api/orders', { ...bearer('good-token'), 'x-user-id': 'mallory' }));
      expect({
        user: echo.headers['x-user-id'],
        client: echo.headers['x-client-id'],
        authorization: echo.headers.authorization,
        claims: JSON.parse(String(echo.headers['x-seen-claims'])).sub,
      }).toEqual({ user: 'alice', client: 'spa', authorization: undefined, claims: 'alice' });
      // The call: POST, form-encoded, the gateway's credentials as Basic, the hint.
      expect(idp.calls.at(-1)).toEqual({ authorization: expect.stringMatching(/^Basic /), contentType: 'application/x-www-form-urlencoded', form: { token: 'good-token', token_type_hint: 'access_token' } });
    });
  });

  it('authenticates with the auth headers instead when given', async () => {
    const basic = `Basic ${Buffer.from(`${encodeURIComponent(introspectionClient.id).replaceAll('%20', '+')}:${encodeURIComponent(introspectionClient.secret)}`).toString('base64')}`;
    const g = await startGateway([introspection({ endpoint: idp.url, auth: { authorization: basic }, tokenTypeHint: null })]);
    try {
      expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
      expect(idp.calls.at(-1)?.form).toEqual({ token: 'good-token' });
    } finally {
      await g.close();
    }
  });

  describe('the cache', () => {
    it('answers a token it has seen without a call; another token is a call of its own', async () => {
      idp.tokens.set('other-token', { active: true, sub: 'bob', exp: now() + 3600 });
      await withGateway({}, async (g) => {
        const before = idp.calls.length;
        for (let i = 0; i < 3; i++) expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
        expect((await g.get('/api/x', bearer('other-token'))).status).toBe(200);
        expect(idp.calls.length - before).toBe(2);
      });
    });

    it('concurrent requests with one token make one call', async () => {
      await withGateway({}, async (g) => {
        const before = idp.calls.length;
        const statuses = await Promise.all(Array.from({ length: 10 }, async () => (await g.get('/api/x', bearer('good-token'))).status));
        expect({ statuses: new Set(statuses), calls: idp.calls.length - before }).toEqual({ statuses: new Set([200]), calls: 1 });
      });
    });

    it('never keeps an answer past the token’s exp', async () => {
      idp.tokens.set('short-token', { active: true, sub: 'alice', exp: now() + 1 });
      await withGateway({}, async (g) => {
        const before = idp.calls.length;
        expect((await g.get('/api/x', bearer('short-token'))).status).toBe(200);
        // maxAge is 5 min: only exp can send the next request to the endpoint.
        await eventually('the cached answer expired with the token', async () => (await g.get('/api/x', bearer('short-token'))) && idp.calls.length - before === 2, 1000);
      });
    });

    it('remembers active: false too, for inactiveMaxAge: a repeated bad token is one call', async () => {
      await withGateway({}, async (g) => {
        const before = idp.calls.length;
        const replies = [];
        for (let i = 0; i < 3; i++) replies.push(await refused(g, bearer('revoked-token')));
        expect(replies.map((reply) => [reply.status, reply.code, reply.challenge])).toEqual(Array.from({ length: 3 }, () => [401, 'invalid_token', invalidToken]));
        expect(idp.calls.length - before).toBe(1);
      });
    });

    it('is bounded: past maxEntries the least recently used answer is dropped', async () => {
      for (const name of ['a', 'b', 'c']) idp.tokens.set(name, { active: true, sub: name, exp: now() + 3600 });
      await withGateway({ cache: { maxEntries: 2 } }, async (g) => {
        const before = idp.calls.length;
        for (const name of ['a', 'b', 'a', 'c', 'a', 'b']) expect((await g.get('/api/x', bearer(name))).status).toBe(200);
        // a, b called; a cached; c called (drops b, the least recently used); a cached; b called again.
        expect(idp.calls.slice(before).map((call) => call.form.token)).toEqual(['a', 'b', 'c', 'b']);
      });
    });

    it('maxEntries 0 turns it off', async () => {
      await withGateway({ cache: { maxEntries: 0 } }, async (g) => {
        const before = idp.calls.length;
        for (let i = 0; i < 2; i++) expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
        expect(idp.calls.length - before).toBe(2);
      });
    });
  });

  describe('scopes', () => {
    it('passes a token whose answer has the scopes, and refuses one without: 403 insufficient_scope', async () => {
      await withGateway({ scopes: ['orders:read'] }, async (g) => {
        expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
        idp.tokens.set('profile-token', { active: true, sub: 'alice', scope: 'profile', exp: now() + 3600 });
        expect(await refused(g, bearer('profile-token'))).toEqual({
          status: 403,
          code: 'insufficient_scope',
          challenge: 'Bearer realm="api", error="insufficient_scope", scope="orders:read"',
          retryAfter: undefined,
          calls: 1,
          upstreamRequests: 0,
          busy: 0,
        });
      });
    });

    it('requireScopes() on a route reads the same claims', async () => {
      await withGateway({}, async (g) => {
        expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
        idp.tokens.set('profile-token', { active: true, sub: 'alice', scope: 'profile', exp: now() + 3600 });
        expect((await refused(g, bearer('profile-token'))).code).toBe('insufficient_scope');
      }, [requireScopes({ any: ['orders:read', 'admin'] })]);
    });
  });

  describe('refuses, per RFC 6750, without calling the upstream', () => {
    it.each<[string, Record<string, string>, { status: number; code: string; challenge: string }]>([
      ['no credentials', {}, { status: 401, code: 'unauthorized', challenge: realmOnly }],
      ['another scheme', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, { status: 401, code: 'unauthorized', challenge: realmOnly }],
      ['Bearer without a token', { authorization: 'Bearer' }, { status: 400, code: 'invalid_request', challenge: 'Bearer realm="api", error="invalid_request"' }],
      ['characters no token has', { authorization: 'Bearer a"b' }, { status: 400, code: 'invalid_request', challenge: 'Bearer realm="api", error="invalid_request"' }],
      ['a 1 MiB token', bearer('A'.repeat(1024 * 1024)), { status: 401, code: 'invalid_token', challenge: invalidToken }],
    ])('%s, before any call to the endpoint', async (_what, headers, expected) => {
      await withGateway({}, async (g) => {
        expect(await refused(g, headers)).toEqual({ ...expected, retryAfter: undefined, calls: 0, upstreamRequests: 0, busy: 0 });
      });
    });

    it.each<[string, Record<string, unknown>, Partial<IntrospectionOptions>, string?]>([
      ['an inactive token', { active: false }, {}],
      ['an active answer whose exp is past (beyond the clock tolerance)', { active: true, sub: 'a', exp: now() - 120 }, {}, ', error_description="The access token expired."'],
      ['an active answer whose nbf is ahead', { active: true, sub: 'a', nbf: now() + 3600, exp: now() + 7200 }, {}, ', error_description="The access token is not valid yet."'],
      ['another issuer', { active: true, iss: 'https://evil.example/', exp: now() + 3600 }, { issuer: 'https://idp.example/' }],
      ['another audience', { active: true, aud: ['billing'], exp: now() + 3600 }, { audience: 'orders' }],
    ])('%s: 401 invalid_token', async (_what, answer, options, description = '') => {
      idp.tokens.set('the-token', answer);
      await withGateway(options, async (g) => {
        expect(await refused(g, bearer('the-token'))).toEqual({ status: 401, code: 'invalid_token', challenge: `${invalidToken}${description}`, retryAfter: undefined, calls: 1, upstreamRequests: 0, busy: 0 });
      });
    });

    it('passes an answer with the configured issuer and audience', async () => {
      await withGateway({ issuer: ['https://idp.example/'], audience: ['orders', 'billing'] }, async (g) => {
        expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
      });
    });
  });

  describe('when the endpoint gives no usable answer: 503 auth_unavailable with Retry-After, no challenge, nothing cached', () => {
    const unavailable = { status: 503, code: 'auth_unavailable', challenge: undefined, retryAfter: '1', upstreamRequests: 0, busy: 0 };

    it.each([
      ['answers 503', 'down'],
      ['answers JSON without a boolean active', 'garbage'],
      ['answers HTML', 'html'],
      ['answers without end (chunked): the read stops at 1 MiB', 'huge'],
      ['declares 64 MiB', 'huge-declared'],
    ] as const)('the endpoint %s', async (_what, mode) => {
      idp.mode = mode;
      await withGateway({}, async (g) => {
        const hungUp = idp.hungUp();
        expect(await refused(g, bearer('good-token'))).toEqual({ ...unavailable, calls: 1 });
        // The gateway hung up rather than read on, and no connection to the endpoint stays open.
        await eventually('the introspection connection is closed', async () => (await idp.connections()) === 0);
        if (mode.startsWith('huge')) await eventually('the gateway hung up on the answer', () => idp.hungUp() - hungUp === 1);
        else expect(idp.hungUp()).toBe(hungUp);
        idp.mode = 'ok';
        expect((await g.get('/api/x', bearer('good-token'))).status).toBe(200);
      });
    });

    it('the endpoint refuses the gateway’s credentials (401 from it is no answer about the token)', async () => {
      const g = await startGateway([introspection({ endpoint: idp.url, clientId: 'gateway client', clientSecret: 'wrong' })]);
      try {
        expect(await refused(g, bearer('good-token'))).toEqual({ ...unavailable, calls: 1 });
      } finally {
        await g.close();
      }
    });

    it('the endpoint refuses connections', async () => {
      const g = await startGateway([introspection({ endpoint: `${refusedOrigin}/introspect`, ...client })]);
      try {
        expect(await refused(g, bearer('good-token'))).toEqual({ ...unavailable, calls: 0 });
      } finally {
        await g.close();
      }
    });

    it('the endpoint is slower than the timeout: the call is aborted, the request answered', async () => {
      idp.mode = 'stall';
      await withGateway({ timeout: 300 }, async (g) => {
        const reply = refused(g, bearer('good-token'));
        await eventually('the call is held', () => idp.held() === 1);
        // Only the timeout can end this request: the server holds the call until afterEach.
        expect(await reply).toEqual({ ...unavailable, calls: 1 });
      });
    });
  });

  it('gateway.routes() says the route needs a bearer token checked by introspection', async () => {
    await withGateway({ scopes: { any: ['a', 'b'] } }, async (g) => {
      expect(g.gateway.routes()[0]!.middleware).toEqual([
        { name: 'introspection', describe: { security: { type: 'http', scheme: 'bearer' }, verifiedBy: 'introspection', realm: 'api', tokenFrom: ['header:authorization'], scopes: ['a', 'b'], scopeMatch: 'any' } },
      ]);
    });
  });

  describe('configuration mistakes are GatewayBuildErrors (invalid_option) at introspection()', () => {
    it.each<[string, () => unknown]>([
      ['no endpoint', () => introspection({ ...client } as unknown as IntrospectionOptions)],
      ['an endpoint that is not http(s)', () => introspection({ endpoint: 'file:///introspect', ...client })],
      ['no client credentials', () => introspection({ endpoint: idp.url })],
      ['a client id without a secret', () => introspection({ endpoint: idp.url, clientId: 'gateway' })],
      ['credentials and auth headers both', () => introspection({ endpoint: idp.url, ...client, auth: { authorization: 'Bearer x' } })],
      ['a negative timeout', () => introspection({ endpoint: idp.url, ...client, timeout: -1 })],
      ['a cache bound that is not an integer', () => introspection({ endpoint: idp.url, ...client, cache: { maxEntries: 1.5 } })],
      ['a realm with a quote', () => introspection({ endpoint: idp.url, ...client, realm: 'a"b' })],
      ['a field mapped to Cookie', () => introspection({ endpoint: idp.url, ...client, claimHeaders: { sub: 'cookie' } })],
    ])('%s', (_what, make) => {
      expect(buildProblems(make)).toEqual([['invalid_option', 'introspection()']]);
    });
  });
});
