import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { conformanceKey, consumerHeaders, cookieKeys, keyConsumer, signedCookie } from '../src/auth-keys.ts';
import { authAudience, authSecret } from '../src/gateway.ts';
import { adapterNames, describeAdapters, type AdapterName } from './adapters.ts';
import { send, type Reply } from './client.ts';
import { conform, converges, observations } from './divergences.ts';
import type { Echo } from './upstreams.ts';

// API keys, anyOf(jwt(), apiKey()) and signed cookies of @apigate/auth, on every adapter. The
// gateway's services are in src/auth-keys.ts; the comparison across adapters is at the end.

const keyChallenge = 'ApiKey realm="api", header="x-api-key", query="api_key"';
const cookieChallenge = `Cookie realm="api", cookie-name="${signedCookie}"`;

/** `value.signature` as any HMAC-SHA256 implementation signs the cookie. */
const signed = (key: string, value: string): string => `${value}.${createHmac('sha256', key).update(`${signedCookie}=${value}`).digest('base64url')}`;

describeAdapters(adapterNames, (f, adapter) => {
  const get = (path: string, headers: Record<string, string | string[]> = {}, method = 'GET') => send(f.target.base, path, { method, headers });
  /** A refusal: status, code, challenge, and whether the upstream was spared. */
  const refused = async (path: string, headers: Record<string, string | string[]> = {}, method = 'GET'): Promise<Record<string, unknown>> => {
    const before = f.upstreams.echo[0]!.requests();
    const reply = await get(path, headers, method);
    const rendered = String(reply.headers['content-type']).startsWith('application/json') ? reply.json<{ error?: { code: string } }>().error : undefined;
    return { status: reply.status, code: rendered?.code, challenge: reply.headers['www-authenticate'], upstreamRequests: f.upstreams.echo[0]!.requests() - before };
  };
  const seen = (reply: Reply): Echo => {
    expect(reply.status).toBe(200);
    return reply.json<Echo>();
  };

  describe('API keys (@apigate/auth apiKey()) on a service', () => {
    it("passes a known key: the upstream gets the consumer's headers, not the client's, and no key", async () => {
      const echo = seen(await get('/keys/me', { 'x-api-key': conformanceKey, [consumerHeaders.id]: 'mallory' }));
      conform('api key passes', adapter, { url: echo.url, id: echo.headers[consumerHeaders.id], tier: echo.headers[consumerHeaders.tier], key: echo.headers['x-api-key'] }, { url: '/me', id: keyConsumer.id, tier: keyConsumer.tier, key: undefined });
    });

    it('takes the key from the query and removes it from the upstream URI', async () => {
      const echo = seen(await get(`/keys/me?a=1&api_key=${conformanceKey}&b=2`));
      conform('api key in the query', adapter, { url: echo.url, id: echo.headers[consumerHeaders.id] }, { url: '/me?a=1&b=2', id: keyConsumer.id });
    });

    it.each<[string, Record<string, string | string[]>, string, Record<string, unknown>]>([
      ['no key', {}, '/keys/me', { status: 401, code: 'unauthorized', challenge: keyChallenge }],
      ['an unknown key', { 'x-api-key': 'k-nobody-0123456789' }, '/keys/me', { status: 401, code: 'invalid_api_key', challenge: `${keyChallenge}, error="invalid_api_key"` }],
      ['a key of 300 characters', { 'x-api-key': 'k'.repeat(300) }, '/keys/me', { status: 401, code: 'invalid_api_key', challenge: `${keyChallenge}, error="invalid_api_key"` }],
      ['an empty key', { 'x-api-key': '' }, '/keys/me', { status: 400, code: 'invalid_request', challenge: `${keyChallenge}, error="invalid_request"` }],
      ['two key headers', { 'x-api-key': [conformanceKey, conformanceKey] }, '/keys/me', { status: 400, code: 'invalid_request', challenge: `${keyChallenge}, error="invalid_request"` }],
      ['a key in the header and the query', { 'x-api-key': conformanceKey }, `/keys/me?api_key=${conformanceKey}`, { status: 400, code: 'invalid_request', challenge: `${keyChallenge}, error="invalid_request"` }],
    ])('refuses %s without calling the upstream', async (what, headers, path, expected) => {
      conform(`api key refuses ${what}`, adapter, await refused(path, headers), { ...expected, upstreamRequests: 0 });
    });

    it('lets a CORS preflight through to the upstream without a key, and checks any other OPTIONS', async () => {
      const preflight = seen(await get('/keys/cors/orders', { origin: 'https://app.example', 'access-control-request-method': 'POST' }, 'OPTIONS'));
      conform('api key preflight', adapter, { method: preflight.method, url: preflight.url, plainOptions: await refused('/keys/cors/orders', {}, 'OPTIONS') }, {
        method: 'OPTIONS',
        url: '/cors/orders',
        plainOptions: { status: 401, code: 'unauthorized', challenge: keyChallenge, upstreamRequests: 0 },
      });
    });
  });

  describe('anyOf(jwt(), apiKey()) on a service', () => {
    const token = (expiresIn = 3600): Promise<string> =>
      new SignJWT({ aud: authAudience, sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn).sign(new TextEncoder().encode(authSecret));

    it('passes a bearer token or an API key', async () => {
      const byToken = seen(await get('/either/me', { authorization: `Bearer ${await token()}` }));
      const byKey = seen(await get('/either/me', { 'x-api-key': conformanceKey }));
      conform('anyOf passes', adapter, { token: [byToken.url, byToken.headers.authorization], key: [byKey.url, byKey.headers['x-api-key'], byKey.headers[consumerHeaders.id]] }, { token: ['/me', undefined], key: ['/me', undefined, keyConsumer.id] });
    });

    it('answers no credentials with both challenges, and an expired token with invalid_token even beside a good key', async () => {
      conform('anyOf refuses', adapter, { none: await refused('/either/me'), expired: await refused('/either/me', { authorization: `Bearer ${await token(-3600)}`, 'x-api-key': conformanceKey }) }, {
        none: { status: 401, code: 'unauthorized', challenge: `Bearer realm="api", ${keyChallenge}`, upstreamRequests: 0 },
        expired: { status: 401, code: 'invalid_token', challenge: 'Bearer realm="api", error="invalid_token", error_description="The access token expired."', upstreamRequests: 0 },
      });
    });
  });

  describe('signed cookies (@apigate/auth signedCookies())', () => {
    it("signs the named cookie in the upstream's Set-Cookie and leaves the others", async () => {
      const reply = await get('/session/cookies');
      conform('signed cookies sign', adapter, { status: reply.status, setCookie: reply.headers['set-cookie'] }, { status: 200, setCookie: [`a=${signed(cookieKeys[0], '1')}; Path=/`, 'b=2; Path=/; HttpOnly'] });
    });

    it('verifies the cookie with the current or the previous key; the upstream gets the plain value', async () => {
      const current = seen(await get('/session/echo', { cookie: `a=${signed(cookieKeys[0], '1')}; b=2` }));
      const previous = seen(await get('/session/echo', { cookie: `a=${signed(cookieKeys[1], '7')}` }));
      conform('signed cookies verify', adapter, { current: current.headers.cookie, previous: previous.headers.cookie }, { current: 'a=1; b=2', previous: 'a=7' });
    });

    it.each<[string, string]>([
      ['an unsigned cookie', 'a=1'],
      ['a truncated signature', `a=${signed(cookieKeys[0], '1').slice(0, -4)}`],
      ['a changed value', `a=2${signed(cookieKeys[0], '1').slice(1)}`],
      ['a key that is not listed', `a=${signed('a retired key, no longer listed anywhere', '1')}`],
      ['a signed cookie sent twice', `a=${signed(cookieKeys[0], '1')}; a=${signed(cookieKeys[0], '1')}`],
    ])('drops %s (strip) or refuses it 401 invalid_cookie (reject)', async (what, bad) => {
      const stripped = seen(await get('/session/echo', { cookie: `b=2; ${bad}` }));
      conform(`signed cookies: ${what}`, adapter, { stripped: stripped.headers.cookie, rejected: await refused('/session-strict/echo', { cookie: `b=2; ${bad}` }) }, {
        stripped: 'b=2',
        rejected: { status: 401, code: 'invalid_cookie', challenge: `${cookieChallenge}, error="invalid_cookie"`, upstreamRequests: 0 },
      });
    });
  });
});

describe('across adapters', () => {
  it('every adapter observed the same thing on every API key and signed-cookie case', () => {
    const reference: AdapterName = 'express';
    const differing: string[] = [];
    for (const [caseName, byAdapter] of observations) {
      const base = byAdapter.get(reference);
      for (const [adapter, observed] of byAdapter) {
        if (adapter === reference || !converges(caseName, adapter)) continue;
        try {
          expect(observed).toEqual(base);
        } catch {
          differing.push(`${caseName}: ${adapter} ${JSON.stringify(observed)} vs ${reference} ${JSON.stringify(base)}`);
        }
      }
      expect(byAdapter.size).toBe(adapterNames.length);
    }
    expect(differing).toEqual([]);
  });
});
