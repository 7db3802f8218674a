import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cookieSigner, signedCookies, type SignedCookiesOptions } from '../src/index.ts';
import { buildProblems } from './helpers.ts';
import { seenScope, spared, startAuthGateway, upstreamSaw, type AuthGateway } from './keys-helpers.ts';

// Three keys: `current` signs, `previous` still verifies, `retired` was removed from the list.
const current = 'the current cookie key, 32 bytes or more';
const previous = 'the previous cookie key, also 32+ bytes';
const retired = 'a retired cookie key, no longer listed!';
const keys = [current, previous];

/** The signature as any HMAC-SHA256 implementation makes it: over `name=value`, base64url. */
const mac = (key: string, name: string, value: string): string => createHmac('sha256', key).update(`${name}=${value}`).digest('base64url');
const signed = (key: string, name: string, value: string): string => `${value}.${mac(key, name, value)}`;

describe('cookieSigner()', () => {
  const signer = cookieSigner(keys);

  it('signs with the first key: value, a dot, the base64url HMAC-SHA256 of name=value', () => {
    expect(signer.sign('session', 'abc.123')).toBe(signed(current, 'session', 'abc.123'));
  });

  it('verifies a value signed with any listed key, and gives the value back', () => {
    expect([signer.verify('session', signed(current, 'session', 'v1')), signer.verify('session', signed(previous, 'session', 'v2'))]).toEqual(['v1', 'v2']);
  });

  it.each<[string, string]>([
    ['a key that was removed', signed(retired, 'session', 'v')],
    ['a value signed for another cookie name', signed(current, 'cart', 'v')],
    ['a changed value', `w.${mac(current, 'session', 'v')}`],
    ['a truncated signature', signed(current, 'session', 'v').slice(0, -1)],
    ['a signature one character longer', `${signed(current, 'session', 'v')}A`],
    ['a signature with a character that is not base64url', `v.${mac(current, 'session', 'v').slice(0, -1)}!`],
    ['a base64 (not base64url) signature', `v.${createHmac('sha256', current).update('session=v').digest('base64')}`],
    ['no signature', 'v'],
    ['an empty signature', 'v.'],
  ])('refuses %s', (_what, value) => {
    expect(signer.verify('session', value)).toBeUndefined();
  });
});

/** Starts a gateway behind `signedCookies(options)` for one block of cases. */
const behind = (options: () => SignedCookiesOptions): (() => AuthGateway) => {
  let gateway: AuthGateway;
  beforeAll(async () => {
    gateway = await startAuthGateway([signedCookies(options())]);
  });
  afterAll(async () => {
    await gateway.close();
  });
  return () => gateway;
};

/** Bad `session` cookies, as the Cookie header carries them beside an unsigned `theme`. */
const badSessions: [string, string][] = [
  ['an unsigned cookie', 'session=abc123'],
  ['a changed value', `session=abd123.${mac(current, 'session', 'abc123')}`],
  ['a truncated signature', `session=${signed(current, 'session', 'abc123').slice(0, -3)}`],
  ['a signature with one character changed', `session=${signed(current, 'session', 'abc123').slice(0, -1)}${signed(current, 'session', 'abc123').endsWith('A') ? 'B' : 'A'}`],
  ['a malformed signature', 'session=abc123.not*base64url*at*all*not*base64url*at*all*ab'],
  ['a signature by a key removed after rotation', `session=${signed(retired, 'session', 'abc123')}`],
  ["another cookie's signature", `session=${signed(current, 'cart', 'abc123')}`],
  ['a signed cookie sent twice', `session=${signed(current, 'session', 'abc123')}; session=${signed(current, 'session', 'abc123')}`],
  ['an empty value', 'session='],
  ['an empty signature', 'session=abc123.'],
];

describe('signedCookies() (onInvalid: strip, the default)', () => {
  const g = behind(() => ({ keys, names: ['session', 'cart'] }));

  it("signs the named cookies of the upstream's Set-Cookie, attributes kept, the others untouched", async () => {
    const reply = await g().send('/api/set-cookie');
    expect(reply.headers['set-cookie']).toEqual([`session=${signed(current, 'session', 'abc123')}; Path=/; HttpOnly`, 'theme=dark; Path=/', `cart="${signed(current, 'cart', 'x1')}"; Path=/`, 'old=; Max-Age=0']);
  });

  it('verifies what it signed when the client sends it back: the upstream gets the plain value, the scope the verified ones', async () => {
    const setCookies = (await g().send('/api/set-cookie')).headers['set-cookie']!;
    const cookie = setCookies.map((value) => value.split(';')[0]).join('; ');
    const echo = upstreamSaw(await g().send('/api/x', { headers: { cookie } }));
    expect({ cookie: echo.headers.cookie, verified: seenScope(echo, 'signedcookies') }).toEqual({ cookie: 'session=abc123; theme=dark; cart="x1"; old=', verified: { session: 'abc123', cart: 'x1' } });
  });

  it('verifies a cookie signed with the previous key (rotation)', async () => {
    const echo = upstreamSaw(await g().send('/api/x', { headers: { cookie: `session=${signed(previous, 'session', 'abc123')}` } }));
    expect({ cookie: echo.headers.cookie, verified: seenScope(echo, 'signedcookies') }).toEqual({ cookie: 'session=abc123', verified: { session: 'abc123' } });
  });

  it.each(badSessions)('drops %s and goes on: 200, no challenge, the other cookies kept', async (_what, bad) => {
    const reply = await g().send('/api/x', { headers: { cookie: `theme=dark; ${bad}` } });
    const echo = upstreamSaw(reply);
    expect({ status: reply.status, challenge: reply.headers['www-authenticate'], cookie: echo.headers.cookie, verified: seenScope(echo, 'signedcookies'), busy: g().busy() }).toEqual({
      status: 200,
      challenge: undefined,
      cookie: 'theme=dark',
      verified: {},
      busy: 0,
    });
  });

  it('leaves a Cookie header without signed cookies exactly as sent', async () => {
    expect(upstreamSaw(await g().send('/api/x', { headers: { cookie: 'theme=dark;lang=en;  x' } })).headers.cookie).toBe('theme=dark;lang=en;  x');
  });

  it('removes the Cookie header when the bad cookie was the only one', async () => {
    expect(upstreamSaw(await g().send('/api/x', { headers: { cookie: 'session=abc123' } })).headers.cookie).toBeUndefined();
  });
});

describe("signedCookies({ onInvalid: 'reject' })", () => {
  const g = behind(() => ({ keys, names: ['session'], onInvalid: 'reject' }));

  it('passes a request without the cookie, and one with a valid cookie', async () => {
    const statuses = [(await g().send('/api/x')).status, (await g().send('/api/x', { headers: { cookie: `session=${signed(current, 'session', 'abc123')}` } })).status];
    expect(statuses).toEqual([200, 200]);
  });

  it.each(badSessions)('refuses %s: 401 invalid_cookie with a Cookie challenge, upstream not called', async (_what, bad) => {
    expect(await g().refused('/api/x', { headers: { cookie: `theme=dark; ${bad}` } })).toEqual({
      status: 401,
      code: 'invalid_cookie',
      challenge: 'Cookie realm="api", cookie-name="session", error="invalid_cookie"',
      ...spared,
    });
  });
});

describe('signedCookies({ required: true })', () => {
  const g = behind(() => ({ keys, names: ['session'], required: true }));

  it('refuses a request without the cookie: 401 unauthorized with the bare Cookie challenge', async () => {
    expect(await g().refused('/api/x', { headers: { cookie: 'theme=dark' } })).toEqual({ status: 401, code: 'unauthorized', challenge: 'Cookie realm="api", cookie-name="session"', ...spared });
  });

  it('refuses a badly signed one the same way (it is stripped, then missing)', async () => {
    expect(await g().refused('/api/x', { headers: { cookie: 'session=abc123' } })).toEqual({ status: 401, code: 'unauthorized', challenge: 'Cookie realm="api", cookie-name="session"', ...spared });
  });

  it('passes a valid one', async () => {
    expect((await g().send('/api/x', { headers: { cookie: `session=${signed(previous, 'session', 's')}` } })).status).toBe(200);
  });
});

describe('gateway.routes()', () => {
  it('lists the signed cookies as a cookie apiKey scheme', async () => {
    const g = await startAuthGateway([signedCookies({ keys, names: ['session'] })]);
    try {
      expect(g.gateway.routes()[0]!.middleware).toEqual([
        { name: 'signed-cookies', describe: { security: { type: 'apiKey', in: 'cookie', name: 'session' }, realm: 'api', signed: ['session'], onInvalid: 'strip', required: false } },
      ]);
    } finally {
      await g.close();
    }
  });
});

describe('configuration mistakes are GatewayBuildErrors (invalid_option)', () => {
  it.each<[string, () => unknown, string]>([
    ['no keys', () => signedCookies({ keys: [], names: ['s'] }), 'signedCookies()'],
    ['a key shorter than 32 bytes', () => signedCookies({ keys: [current, 'short'], names: ['s'] }), 'signedCookies()'],
    ['no names', () => signedCookies({ keys, names: [] }), 'signedCookies()'],
    ['a name with a space', () => signedCookies({ keys, names: ['a b'] }), 'signedCookies()'],
    ['an unknown onInvalid', () => signedCookies({ keys, names: ['s'], onInvalid: 'ignore' as 'strip' }), 'signedCookies()'],
    ['a signer without keys', () => cookieSigner([]), 'cookieSigner()'],
  ])('%s', (_what, make, at) => {
    expect(buildProblems(make)).toEqual([['invalid_option', at]]);
  });
});
