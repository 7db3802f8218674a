import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Middleware } from '@apigate/core';
import { allOf, allowPreflight, anonymousConsumer, anyOf, apiKey, jwt, optional, signedCookies } from '../src/index.ts';
import { buildProblems, secret, sign } from './helpers.ts';
import { seenScope, spared, startAuthGateway, upstreamSaw, type AuthGateway } from './keys-helpers.ts';

const key = 'k-alice-0123456789';
const methods = () => ({
  token: jwt({ secret, claimHeaders: { sub: 'x-user-id' } }),
  key: apiKey({ keys: [{ key, consumer: 'alice', tier: 'pro' }] }),
});
const bearerChallenge = 'Bearer realm="api"';
const keyChallenge = 'ApiKey realm="api", header="x-api-key"';
const bearer = async (claims: Record<string, unknown> = { sub: 'tok-user' }, expiresIn = 3600) => ({ authorization: `Bearer ${await sign(claims, secret, { expiresIn })}` });

/** Starts a gateway behind one composed middleware for a block of cases. */
const behind = (make: () => Middleware): (() => AuthGateway) => {
  let gateway: AuthGateway;
  beforeAll(async () => {
    gateway = await startAuthGateway([make()]);
  });
  afterAll(async () => {
    await gateway.close();
  });
  return () => gateway;
};

/** Who the upstream was told the caller is. */
const who = (reply: Awaited<ReturnType<AuthGateway['send']>>) => {
  const echo = upstreamSaw(reply);
  return { sub: (seenScope(echo, 'claims') as { sub?: string } | undefined)?.sub, consumer: (seenScope(echo, 'consumer') as { id?: string } | undefined)?.id, authorization: echo.headers.authorization, key: echo.headers['x-api-key'] };
};

describe('anyOf(jwt(), apiKey())', () => {
  const g = behind(() => {
    const { token, key: keyMethod } = methods();
    return anyOf(token, keyMethod);
  });

  it('passes a bearer token alone, an API key alone, and both; neither credential goes upstream', async () => {
    const results = [await g().send('/api/x', { headers: await bearer() }), await g().send('/api/x', { headers: { 'x-api-key': key } }), await g().send('/api/x', { headers: { ...(await bearer()), 'x-api-key': key } })].map(who);
    expect(results).toEqual([
      { sub: 'tok-user', consumer: undefined, authorization: undefined, key: undefined },
      { sub: undefined, consumer: 'alice', authorization: undefined, key: undefined },
      { sub: 'tok-user', consumer: 'alice', authorization: undefined, key: undefined },
    ]);
  });

  it('no credentials: 401 unauthorized with both challenges in one WWW-Authenticate', async () => {
    expect(await g().refused('/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge: `${bearerChallenge}, ${keyChallenge}`, ...spared });
  });

  it.each<[string, () => Promise<Record<string, string | string[]>>, { status: number; code: string; challenge: string }]>([
    ['a valid token and an unknown key', async () => ({ ...(await bearer()), 'x-api-key': 'k-nobody-0123456789' }), { status: 401, code: 'invalid_api_key', challenge: `${keyChallenge}, error="invalid_api_key"` }],
    ['a bad token and a valid key', async () => ({ authorization: 'Bearer a.b.c', 'x-api-key': key }), { status: 401, code: 'invalid_token', challenge: 'Bearer realm="api", error="invalid_token"' }],
    ['an expired token alone', async () => bearer({ sub: 'x' }, -3600), { status: 401, code: 'invalid_token', challenge: 'Bearer realm="api", error="invalid_token", error_description="The access token expired."' }],
    ['two API key headers', async () => ({ 'x-api-key': [key, key] }), { status: 400, code: 'invalid_request', challenge: `${keyChallenge}, error="invalid_request"` }],
    ['Bearer without a token and a valid key', async () => ({ authorization: 'Bearer', 'x-api-key': key }), { status: 400, code: 'invalid_request', challenge: 'Bearer realm="api", error="invalid_request"' }],
  ])('refuses %s: bad credentials are never outvoted by good ones', async (_what, headers, expected) => {
    expect(await g().refused('/api/x', { headers: await headers() })).toEqual({ ...expected, ...spared });
  });
});

describe('allOf(jwt(), apiKey())', () => {
  const g = behind(() => {
    const { token, key: keyMethod } = methods();
    return allOf(token, keyMethod);
  });

  it('passes a request with both', async () => {
    expect(who(await g().send('/api/x', { headers: { ...(await bearer()), 'x-api-key': key } }))).toEqual({ sub: 'tok-user', consumer: 'alice', authorization: undefined, key: undefined });
  });

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    ['only a token: the API key challenge', () => bearer(), keyChallenge],
    ['only a key: the Bearer challenge', async () => ({ 'x-api-key': key }), bearerChallenge],
    ['nothing: both challenges', async () => ({}), `${bearerChallenge}, ${keyChallenge}`],
  ])('refuses %s, 401 unauthorized', async (_what, headers, challenge) => {
    expect(await g().refused('/api/x', { headers: await headers() })).toEqual({ status: 401, code: 'unauthorized', challenge, ...spared });
  });

  it('refuses a valid key with a bad token: 401 invalid_token', async () => {
    expect(await g().refused('/api/x', { headers: { authorization: 'Bearer a.b.c', 'x-api-key': key } })).toEqual({ status: 401, code: 'invalid_token', challenge: 'Bearer realm="api", error="invalid_token"', ...spared });
  });
});

describe('optional(apiKey())', () => {
  const g = behind(() => optional(methods().key));

  it('lets a request without credentials through as the anonymous consumer', async () => {
    expect(seenScope(upstreamSaw(await g().send('/api/x')), 'consumer')).toEqual(anonymousConsumer);
  });

  it('passes a valid key as its consumer', async () => {
    expect(who(await g().send('/api/x', { headers: { 'x-api-key': key } })).consumer).toBe('alice');
  });

  it.each<[string, Record<string, string>, { status: number; code: string; challenge: string }]>([
    ['an unknown key', { 'x-api-key': 'k-nobody-0123456789' }, { status: 401, code: 'invalid_api_key', challenge: `${keyChallenge}, error="invalid_api_key"` }],
    ['an empty key', { 'x-api-key': '' }, { status: 400, code: 'invalid_request', challenge: `${keyChallenge}, error="invalid_request"` }],
  ])('still refuses %s', async (_what, headers, expected) => {
    expect(await g().refused('/api/x', { headers })).toEqual({ ...expected, ...spared });
  });
});

describe('optional(anyOf(jwt(), apiKey()), { anonymous })', () => {
  const g = behind(() => {
    const { token, key: keyMethod } = methods();
    return optional(anyOf(token, keyMethod), { anonymous: { consumer: { id: 'guest', tier: 'free', anonymous: true } } });
  });

  it('sets the given anonymous scope values when neither credential came', async () => {
    expect(seenScope(upstreamSaw(await g().send('/api/x')), 'consumer')).toEqual({ id: 'guest', tier: 'free', anonymous: true });
  });

  it('refuses an expired token', async () => {
    expect(await g().refused('/api/x', { headers: await bearer({ sub: 'x' }, -3600) })).toMatchObject({ status: 401, code: 'invalid_token', ...spared });
  });
});

describe('allowPreflight(anyOf(jwt(), apiKey()))', () => {
  const g = behind(() => {
    const { token, key: keyMethod } = methods();
    return allowPreflight(anyOf(token, keyMethod));
  });

  it('lets a CORS preflight through to the upstream unauthenticated', async () => {
    const echo = upstreamSaw(await g().send('/api/x', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE' } }));
    expect({ method: echo.method, consumer: seenScope(echo, 'consumer'), claims: seenScope(echo, 'claims') }).toEqual({ method: 'OPTIONS', consumer: undefined, claims: undefined });
  });

  it.each<[string, string]>([
    ['an OPTIONS request without Access-Control-Request-Method', 'OPTIONS'],
    ['a GET with Access-Control-Request-Method', 'GET'],
  ])('checks %s: 401 unauthorized', async (_what, method) => {
    const headers = method === 'GET' ? { 'access-control-request-method': 'GET' } : {};
    expect(await g().refused('/api/x', { method, headers })).toEqual({ status: 401, code: 'unauthorized', challenge: `${bearerChallenge}, ${keyChallenge}`, ...spared });
  });
});

describe('anyOf(signedCookies({ required }), apiKey()): the phases after the request phase', () => {
  const cookieKey = 'a cookie key of thirty-two bytes or more';
  const g = behind(() => anyOf(signedCookies({ keys: [cookieKey], names: ['session'], required: true }), methods().key));

  it("signs the upstream's Set-Cookie through the composite: the cookie method's request phase ran", async () => {
    const reply = await g().send('/api/set-cookie', { headers: { 'x-api-key': key } });
    expect(reply.headers['set-cookie']![0]).toMatch(/^session=abc123\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly$/);
  });

  it('passes the signed cookie it set, with no API key', async () => {
    const session = (await g().send('/api/set-cookie', { headers: { 'x-api-key': key } })).headers['set-cookie']![0]!.split(';')[0]!;
    expect(seenScope(upstreamSaw(await g().send('/api/x', { headers: { cookie: session } })), 'signedcookies')).toEqual({ session: 'abc123' });
  });

  it('no cookie and no key: 401 unauthorized with the Cookie and ApiKey challenges', async () => {
    expect(await g().refused('/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge: `Cookie realm="api", cookie-name="session", ${keyChallenge}`, ...spared });
  });
});

describe('gateway.routes()', () => {
  it('lists the composition, each method with its own describe, for an OpenAPI generator', async () => {
    const { token, key: keyMethod } = methods();
    const g = await startAuthGateway([allowPreflight(optional(anyOf(token, keyMethod)))]);
    try {
      expect(g.gateway.routes()[0]!.middleware).toEqual([
        {
          name: 'optional-any-of',
          describe: {
            anyOf: [
              { name: 'jwt', describe: { security: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, realm: 'api', tokenFrom: ['header:authorization'] } },
              { name: 'api-key', describe: { security: { type: 'apiKey', in: 'header', name: 'x-api-key' }, realm: 'api', keyFrom: ['header:x-api-key'] } },
            ],
            optional: true,
            preflight: 'pass',
          },
        },
      ]);
    } finally {
      await g.close();
    }
  });
});

describe('configuration mistakes are GatewayBuildErrors (invalid_option)', () => {
  it.each<[string, () => unknown, string]>([
    ['anyOf() with one method', () => anyOf(methods().key), 'anyOf()'],
    ['allOf() with something that is not a middleware', () => allOf(methods().key, (() => undefined) as unknown as Middleware), 'allOf()'],
    ['optional() of a middleware without a request phase', () => optional({ name: 'x' }), 'optional()'],
    ['allowPreflight() of nothing', () => allowPreflight(undefined as unknown as Middleware), 'allowPreflight()'],
  ])('%s', (_what, make, at) => {
    expect(buildProblems(make)).toEqual([['invalid_option', at]]);
  });
});
