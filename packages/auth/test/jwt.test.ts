import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Middleware } from '@apigate/core';
import { jwt, requireScopes, type JwtOptions } from '../src/index.ts';
import { buildProblems, b64, makeKey, secret, sign, startGateway, upstreamSaw, refusal, type TestGateway, type TestKey } from './helpers.ts';

const realmOnly = 'Bearer realm="api"';
const invalidToken = 'Bearer realm="api", error="invalid_token"';
const invalidRequest = 'Bearer realm="api", error="invalid_request"';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let rsa: TestKey;
let ec: TestKey;
let otherRsa: TestKey;

beforeAll(async () => {
  [rsa, ec, otherRsa] = await Promise.all([makeKey('RS256', 'rsa-1'), makeKey('ES256', 'ec-1'), makeKey('RS256', 'rsa-2')]);
});

/** Starts a gateway behind `jwt(options)` for one block of cases. */
const behind = (options: () => JwtOptions, routeUse: () => Middleware[] = () => []): (() => TestGateway) => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway([jwt(options())], routeUse(), { maxHeaderSize: 2 * 1024 * 1024 });
  });
  afterAll(async () => {
    await gateway.close();
  });
  return () => gateway;
};

/** A refusal, and whether the upstream was spared and no upstream socket stayed busy. */
const refused = async (g: TestGateway, path: string, headers: Record<string, string> = {}) => {
  const before = g.upstream.seen.length;
  const reply = await g.get(path, headers);
  return { ...refusal(reply), upstreamRequests: g.upstream.seen.length - before, busy: g.busy() };
};
const spared = { upstreamRequests: 0, busy: 0 };

describe('jwt() with a shared secret (HS256)', () => {
  const g = behind(() => ({ secret, claimHeaders: { sub: 'x-user-id', tenant: 'x-tenant' } }));

  it('passes a valid token: the claims land in scope, mapped claims go upstream as headers, the Authorization does not', async () => {
    const token = await sign({ sub: 'alice', tenant: 'acme' }, secret);
    const echo = upstreamSaw(await g().get('/api/orders?x=1', bearer(token)));
    expect({ url: echo.url, user: echo.headers['x-user-id'], tenant: echo.headers['x-tenant'], authorization: echo.headers.authorization, sub: JSON.parse(String(echo.headers['x-seen-claims'])).sub }).toEqual({
      url: '/orders?x=1',
      user: 'alice',
      tenant: 'acme',
      authorization: undefined,
      sub: 'alice',
    });
  });

  it('removes a mapped header the client sent, also when the token lacks the claim', async () => {
    const token = await sign({ sub: 'alice' }, secret);
    const echo = upstreamSaw(await g().get('/api/orders', { ...bearer(token), 'x-user-id': 'mallory', 'x-tenant': 'evil' }));
    expect({ user: echo.headers['x-user-id'], tenant: echo.headers['x-tenant'] }).toEqual({ user: 'alice', tenant: undefined });
  });

  it('takes the scheme case-insensitively', async () => {
    const token = await sign({ sub: 'alice' }, secret);
    expect(upstreamSaw(await g().get('/api/x', { authorization: `bEaReR ${token}` })).headers['x-user-id']).toBe('alice');
  });

  it('accepts a token expired by less than the clock tolerance (60 s by default)', async () => {
    const token = await sign({ sub: 'alice' }, secret, { expiresIn: -20 });
    expect((await g().get('/api/x', bearer(token))).status).toBe(200);
  });

  it('refuses a token expired by more than the default clock tolerance: the default is pinned at 60 s', async () => {
    const token = await sign({ sub: 'alice' }, secret, { expiresIn: -90 });
    expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: `${invalidToken}, error_description="The access token expired."`, ...spared });
  });

  describe('refuses, per RFC 6750, without calling the upstream', () => {
    it('no credentials: 401 with a challenge that has no error attribute', async () => {
      expect(await refused(g(), '/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge: realmOnly, ...spared });
    });

    it('another scheme is no bearer credentials: 401 with the bare challenge', async () => {
      expect(await refused(g(), '/api/x', { authorization: 'Basic YWxpY2U6c2VjcmV0' })).toEqual({ status: 401, code: 'unauthorized', challenge: realmOnly, ...spared });
    });

    it.each([
      ['Bearer without a token', 'Bearer'],
      ['Bearer and a space', 'Bearer '],
      ['two tokens', 'Bearer a.b.c d.e.f'],
      ['characters no token has', 'Bearer a.b.c"'],
      ['no scheme at all', '"quoted"'],
    ])('malformed credentials (%s): 400 invalid_request', async (_what, header) => {
      expect(await refused(g(), '/api/x', { authorization: header })).toEqual({ status: 400, code: 'invalid_request', challenge: invalidRequest, ...spared });
    });

    it('an expired token: 401 invalid_token, saying so', async () => {
      const token = await sign({ sub: 'alice' }, secret, { expiresIn: -3600 });
      expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: `${invalidToken}, error_description="The access token expired."`, ...spared });
    });

    it('a token not valid yet: 401 invalid_token, saying so', async () => {
      const token = await sign({ sub: 'alice', nbf: Math.floor(Date.now() / 1000) + 3600 }, secret);
      expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: `${invalidToken}, error_description="The access token is not valid yet."`, ...spared });
    });

    it('a token without exp (required by default)', async () => {
      const token = await sign({ sub: 'alice' }, secret, { expiresIn: null });
      expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });

    it('a token signed with another secret', async () => {
      const token = await sign({ sub: 'alice' }, new TextEncoder().encode('another secret entirely, also long'));
      expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });

    const valid = async () => sign({ sub: 'alice' }, secret);
    it.each<[string, () => Promise<string>]>([
      ['a truncated token', async () => (await valid()).slice(0, -6)],
      ['a token cut after the payload', async () => (await valid()).split('.').slice(0, 2).join('.') + '.'],
      ['two segments', async () => (await valid()).split('.').slice(0, 2).join('.')],
      ['four segments', async () => `${await valid()}.${b64('more')}`],
      ['a header that is not base64url', async () => `ab+c/d.${(await valid()).split('.').slice(1).join('.')}`],
      ['a header of one base64url character', async () => `a.${(await valid()).split('.').slice(1).join('.')}`],
      ['a header that is not JSON', async () => `${b64('not json')}.${(await valid()).split('.').slice(1).join('.')}`],
      ['a header that is a JSON array', async () => `${b64(['HS256'])}.${(await valid()).split('.').slice(1).join('.')}`],
      ['a payload that is not JSON (valid signature)', async () => {
        const { CompactSign } = await import('jose');
        return new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'HS256' }).sign(secret);
      }],
      ['alg none without a signature', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'admin', exp: 9999999999 })}.`],
      ['alg none with a made-up signature', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'admin', exp: 9999999999 })}.${b64('sig')}`],
      ['alg NONE', async () => `${b64({ alg: 'NONE' })}.${b64({ sub: 'admin', exp: 9999999999 })}.${b64('sig')}`],
      ['no alg', async () => `${b64({ typ: 'JWT' })}.${b64({ sub: 'admin', exp: 9999999999 })}.${b64('sig')}`],
      ['an RS256 token against a secret', async () => sign({ sub: 'alice' }, rsa)],
      ['a 1 MiB token', async () => `${b64({ alg: 'HS256' })}.${'A'.repeat(1024 * 1024)}.${b64('sig')}`],
    ])('%s: 401 invalid_token', async (_what, make) => {
      expect(await refused(g(), '/api/x', bearer(await make()))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });

    it('does not read the token from the query string unless asked', async () => {
      const token = await sign({ sub: 'alice' }, secret);
      expect(await refused(g(), `/api/x?access_token=${token}`)).toEqual({ status: 401, code: 'unauthorized', challenge: realmOnly, ...spared });
    });
  });
});

describe('jwt() claim checks', () => {
  const g = behind(() => ({ secret, issuer: ['https://idp.example/', 'https://idp2.example/'], audience: 'orders', typ: 'at+jwt', maxTokenAge: 600, requiredClaims: ['sub'] }));
  const good = { sub: 'alice', iss: 'https://idp2.example/', aud: ['billing', 'orders'] };
  const at = { header: { typ: 'at+jwt' } };

  it('passes a token with an accepted issuer, audience, typ and age', async () => {
    expect((await g().get('/api/x', bearer(await sign(good, secret, at)))).status).toBe(200);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, string?]>([
    ['another issuer', { iss: 'https://evil.example/' }, at],
    ['another audience', { aud: 'billing' }, at],
    ['no audience', { aud: undefined }, at],
    ['typ JWT', {}, { header: { typ: 'JWT' } }],
    ['no typ', {}, {}],
    // jose reports a token too old as expired, which it is for this gateway.
    ['older than maxTokenAge', { iat: Math.floor(Date.now() / 1000) - 3600 }, at, ', error_description="The access token expired."'],
    ['a required claim missing', { sub: undefined }, at],
  ])('refuses %s: 401 invalid_token', async (_what, claims, options, description = '') => {
    const token = await sign({ ...good, ...claims }, secret, options);
    expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: `${invalidToken}${description}`, ...spared });
  });
});

describe('jwt() with requireExp: false', () => {
  const g = behind(() => ({ secret, requireExp: false }));
  it('passes a token without exp', async () => {
    expect((await g().get('/api/x', bearer(await sign({ sub: 'a' }, secret, { expiresIn: null })))).status).toBe(200);
  });
});

describe('jwt() with a public key', () => {
  describe('as a PEM, RS256', () => {
    const g = behind(() => ({ key: rsa.publicPem, algorithms: ['RS256'] }));

    it('passes a token it signed', async () => {
      expect((await g().get('/api/x', bearer(await sign({ sub: 'a' }, rsa)))).status).toBe(200);
    });

    it('refuses HS256 signed with the public key as the secret (algorithm confusion): 401 invalid_token', async () => {
      const token = await sign({ sub: 'admin' }, new TextEncoder().encode(rsa.publicPem));
      expect(await refused(g(), '/api/x', bearer(token))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });

    it('refuses a token signed with another key', async () => {
      expect(await refused(g(), '/api/x', bearer(await sign({ sub: 'a' }, otherRsa)))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });
  });

  describe('as a JWK with its alg (ES256)', () => {
    const g = behind(() => ({ key: ec.publicJwk }));

    it('passes a token it signed; the algorithm comes from the JWK', async () => {
      expect((await g().get('/api/x', bearer(await sign({ sub: 'a' }, ec)))).status).toBe(200);
    });

    it.each([
      ['HS256 signed with the JWK as the secret', async () => sign({ sub: 'admin' }, new TextEncoder().encode(JSON.stringify(ec.publicJwk)), { header: { kid: ec.kid } })],
      ['HS256 signed with the x coordinate as the secret', async () => sign({ sub: 'admin' }, new TextEncoder().encode(String(ec.publicJwk.x)))],
    ])('refuses %s: 401 invalid_token', async (_what, make) => {
      expect(await refused(g(), '/api/x', bearer(await make()))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
    });
  });
});

describe('jwt() with a secret as an oct JWK', () => {
  const g = behind(() => ({ key: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } }));

  it('passes an HS256 token and refuses an RS256 one', async () => {
    expect((await g().get('/api/x', bearer(await sign({ sub: 'a' }, secret)))).status).toBe(200);
    expect(await refused(g(), '/api/x', bearer(await sign({ sub: 'a' }, rsa)))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
  });
});

describe('jwt() with a local JWKS', () => {
  const g = behind(() => ({ jwks: { keys: [rsa.publicJwk, ec.publicJwk] } }));

  it('picks the key by kid', async () => {
    const results = await Promise.all([sign({ sub: 'r' }, rsa), sign({ sub: 'e' }, ec)].map(async (token) => upstreamSaw(await g().get('/api/x', bearer(await token)))));
    expect(results.map((echo) => JSON.parse(String(echo.headers['x-seen-claims'])).sub)).toEqual(['r', 'e']);
  });

  it.each([
    ['an unknown kid', async () => sign({ sub: 'a' }, otherRsa, { header: { kid: 'nobody' } })],
    ['a kid with path traversal', async () => sign({ sub: 'a' }, otherRsa, { header: { kid: '../../../../etc/passwd' } })],
    ['a kid that is not a string', async () => sign({ sub: 'a' }, otherRsa, { header: { kid: 42 } })],
    ['a known kid, signed by another key', async () => sign({ sub: 'a' }, otherRsa, { header: { kid: rsa.kid } })],
    ['HS256 with an RSA kid, signed with its PEM', async () => sign({ sub: 'admin' }, new TextEncoder().encode(rsa.publicPem), { header: { kid: rsa.kid } })],
  ])('refuses %s: 401 invalid_token', async (_what, make) => {
    expect(await refused(g(), '/api/x', bearer(await make()))).toEqual({ status: 401, code: 'invalid_token', challenge: invalidToken, ...spared });
  });
});

describe('jwt() token sources', () => {
  const g = behind(() => ({ secret, from: ['bearer', { cookie: 'at' }, { query: 'access_token' }], claimHeaders: { sub: 'x-user-id' } }));

  it('reads a cookie and removes it from the Cookie header upstream, keeping the others', async () => {
    const token = await sign({ sub: 'cookie-user' }, secret);
    const echo = upstreamSaw(await g().get('/api/x', { cookie: `theme=dark; at=${token}; lang=en` }));
    expect({ user: echo.headers['x-user-id'], cookie: echo.headers.cookie }).toEqual({ user: 'cookie-user', cookie: 'theme=dark; lang=en' });
  });

  it('reads the query parameter and removes it from the upstream URI, keeping the rest', async () => {
    const token = await sign({ sub: 'query-user' }, secret);
    const echo = upstreamSaw(await g().get(`/api/x?a=1&access_token=${token}&b=2`));
    expect({ user: echo.headers['x-user-id'], url: echo.url }).toEqual({ user: 'query-user', url: '/x?a=1&b=2' });
  });

  it.each<[string, (token: string) => { path: string; headers: Record<string, string> }]>([
    ['in the header and a cookie', (token) => ({ path: '/api/x', headers: { ...bearer(token), cookie: `at=${token}` } })],
    ['in a cookie and the query', (token) => ({ path: `/api/x?access_token=${token}`, headers: { cookie: `at=${token}` } })],
    ['twice in the query', (token) => ({ path: `/api/x?access_token=${token}&access_token=${token}`, headers: {} })],
    ['in two cookies of the name', (token) => ({ path: '/api/x', headers: { cookie: `at=${token}; at=${token}` } })],
    ['with bad percent-encoding in the query', () => ({ path: '/api/x?access_token=%E0%A4%A', headers: {} })],
  ])('refuses a token %s: 400 invalid_request', async (_what, make) => {
    const { path, headers } = make(await sign({ sub: 'a' }, secret));
    expect(await refused(g(), path, headers)).toEqual({ status: 400, code: 'invalid_request', challenge: invalidRequest, ...spared });
  });
});

describe('jwt() with forwardToken', () => {
  const g = behind(() => ({ secret, forwardToken: true }));
  it('keeps the Authorization for the upstream', async () => {
    const token = await sign({ sub: 'a' }, secret);
    expect(upstreamSaw(await g().get('/api/x', bearer(token))).headers.authorization).toBe(`Bearer ${token}`);
  });
});

describe('scopes', () => {
  describe('on jwt() itself (all of them)', () => {
    const g = behind(() => ({ secret, scopes: ['orders:read', 'orders:write'] }));

    it('passes a token whose scope claim has them all', async () => {
      expect((await g().get('/api/x', bearer(await sign({ scope: 'profile orders:write orders:read' }, secret)))).status).toBe(200);
    });

    it('passes scopes from an scp list', async () => {
      expect((await g().get('/api/x', bearer(await sign({ scp: ['orders:read', 'orders:write'] }, secret)))).status).toBe(200);
    });

    it.each([
      ['one missing', { scope: 'orders:read' }],
      ['no scope claim', {}],
      ['a scope claim that is not a string', { scope: ['orders:read', 'orders:write'] }],
    ])('refuses %s: 403 insufficient_scope naming the scopes', async (_what, claims) => {
      expect(await refused(g(), '/api/x', bearer(await sign(claims, secret)))).toEqual({
        status: 403,
        code: 'insufficient_scope',
        challenge: 'Bearer realm="api", error="insufficient_scope", scope="orders:read orders:write"',
        ...spared,
      });
    });
  });

  describe('per route with requireScopes (any of them), behind a service-level jwt()', () => {
    const g = behind(
      () => ({ secret, realm: 'orders' }),
      () => [requireScopes({ any: ['admin', 'orders:read'] }, { realm: 'orders' })],
    );

    it('passes a token with any one of them', async () => {
      expect((await g().get('/api/x', bearer(await sign({ scp: 'orders:read' }, secret)))).status).toBe(200);
    });

    it('refuses a token with none: 403 insufficient_scope', async () => {
      expect(await refused(g(), '/api/x', bearer(await sign({ scope: 'profile' }, secret)))).toEqual({
        status: 403,
        code: 'insufficient_scope',
        challenge: 'Bearer realm="orders", error="insufficient_scope", scope="admin orders:read"',
        ...spared,
      });
    });
  });

  it('requireScopes without a jwt() before it refuses 401', async () => {
    const g = await startGateway([requireScopes(['a'])]);
    try {
      expect(await refused(g, '/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge: realmOnly, ...spared });
    } finally {
      await g.close();
    }
  });
});

describe('gateway.routes()', () => {
  it('lists what each route needs', async () => {
    const g = await startGateway([jwt({ secret, from: ['bearer', { cookie: 'at' }] })], [requireScopes(['orders:read'])]);
    try {
      expect(g.gateway.routes().map((route) => route.middleware)).toEqual([
        [
          { name: 'jwt', describe: { security: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, realm: 'api', tokenFrom: ['header:authorization', 'cookie:at'] } },
          { name: 'require-scopes', describe: { scopes: ['orders:read'], scopeMatch: 'all' } },
        ],
      ]);
    } finally {
      await g.close();
    }
  });
});

describe('configuration mistakes are GatewayBuildErrors (invalid_option) at jwt()', () => {
  it.each<[string, () => unknown]>([
    ['no key', () => jwt({})],
    ['two keys', () => jwt({ secret, jwks: 'https://idp.example/jwks' })],
    ['an empty secret', () => jwt({ secret: '' })],
    ['a secret with RS256', () => jwt({ secret, algorithms: ['RS256'] })],
    ['alg none', () => jwt({ secret, algorithms: ['none'] })],
    ['a PEM without algorithms', () => jwt({ key: rsa.publicPem })],
    ['a PEM with HS256', () => jwt({ key: rsa.publicPem, algorithms: ['HS256'] })],
    ['a private PEM', () => jwt({ key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----', algorithms: ['RS256'] })],
    ['a JWK with alg, other algorithms', () => jwt({ key: ec.publicJwk, algorithms: ['ES384'] })],
    ['a JWK without alg, no algorithms', () => jwt({ key: { ...rsa.publicJwk, alg: undefined } })],
    ['a JWKS URL that is not http(s)', () => jwt({ jwks: 'file:///etc/jwks.json' })],
    ['a JWKS with HS256', () => jwt({ jwks: { keys: [] }, algorithms: ['HS256'] })],
    ['jwksCache for a local set', () => jwt({ jwks: { keys: [] }, jwksCache: { maxAge: 1 } })],
    ['a negative cooldown', () => jwt({ jwks: 'https://idp.example/jwks', jwksCache: { cooldown: -1 } })],
    ['a realm with a quote', () => jwt({ secret, realm: 'a"b' })],
    ['a scope with a space', () => jwt({ secret, scopes: ['a b'] })],
    ['no scopes', () => jwt({ secret, scopes: { any: [] } })],
    ['a claim mapped to Authorization', () => jwt({ secret, claimHeaders: { sub: 'Authorization' } })],
    ['a claim mapped to a bad header name', () => jwt({ secret, claimHeaders: { sub: 'x user' } })],
    ['no token source', () => jwt({ secret, from: [] })],
  ])('%s', (_what, make) => {
    expect(buildProblems(make)).toEqual([['invalid_option', 'jwt()']]);
  });
});
