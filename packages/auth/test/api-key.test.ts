import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { apiKey, hashApiKey, memoryKeyStore, type ApiKeyOptions, type Consumer } from '../src/index.ts';
import { buildProblems } from './helpers.ts';
import { seenScope, spared, startAuthGateway, upstreamSaw, type AuthGateway } from './keys-helpers.ts';

const sha256 = (key: string): string => createHash('sha256').update(key).digest('hex');
const challenge = 'ApiKey realm="api", header="x-api-key"';
const invalidKey = `${challenge}, error="invalid_api_key"`;
const invalidRequest = `${challenge}, error="invalid_request"`;

/** Starts a gateway behind `apiKey(options)` for one block of cases. */
const behind = (options: () => ApiKeyOptions): (() => AuthGateway) => {
  let gateway: AuthGateway;
  beforeAll(async () => {
    gateway = await startAuthGateway([apiKey(options())], { maxHeaderSize: 2 * 1024 * 1024 });
  });
  afterAll(async () => {
    await gateway.close();
  });
  return () => gateway;
};

describe('apiKey() with an in-memory store', () => {
  const g = behind(() => ({
    keys: [
      { key: 'k-alice-0123456789', consumer: 'alice', tier: 'pro', name: 'Alice Ltd', meta: { account: 7 } },
      { hash: sha256('k-bob-0123456789'), consumer: 'bob' },
      { key: 'k-eve-revoked', consumer: 'eve', revoked: true },
    ],
    consumerHeaders: { id: 'x-consumer-id', tier: 'x-consumer-tier' },
  }));

  it('passes a known key: the consumer lands in scope and goes upstream as headers, the key does not', async () => {
    const echo = upstreamSaw(await g().send('/api/orders?x=1', { headers: { 'x-api-key': 'k-alice-0123456789', 'x-consumer-id': 'mallory', 'x-consumer-tier': 'internal' } }));
    expect({ url: echo.url, key: echo.headers['x-api-key'], id: echo.headers['x-consumer-id'], tier: echo.headers['x-consumer-tier'], consumer: seenScope(echo, 'consumer') }).toEqual({
      url: '/orders?x=1',
      key: undefined,
      id: 'alice',
      tier: 'pro',
      consumer: { id: 'alice', tier: 'pro', name: 'Alice Ltd', meta: { account: 7 } },
    });
  });

  it('passes a key stored only as its SHA-256 hash; the tier defaults to `default`', async () => {
    expect(seenScope(upstreamSaw(await g().send('/api/x', { headers: { 'x-api-key': 'k-bob-0123456789' } })), 'consumer')).toEqual({ id: 'bob', tier: 'default' });
  });

  describe('refuses without calling the upstream', () => {
    it('no key: 401 unauthorized with the bare ApiKey challenge', async () => {
      expect(await g().refused('/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge, ...spared });
    });

    it.each<[string, Record<string, string>]>([
      ['a key sent as a bearer token', { authorization: 'Bearer k-alice-0123456789' }],
      ['a key in a query parameter it does not read', {}],
    ])('%s is no key: 401 unauthorized', async (_what, headers) => {
      expect(await g().refused('/api/x?api_key=k-alice-0123456789', { headers })).toEqual({ status: 401, code: 'unauthorized', challenge, ...spared });
    });

    it.each<[string, string]>([
      ['an unknown key', 'k-nobody-0123456789'],
      ['a revoked key', 'k-eve-revoked'],
      ['a known key with a changed last character', 'k-alice-012345678x'],
      ['a known key cut short', 'k-alice-01234'],
      ['the stored hash sent as the key', sha256('k-bob-0123456789')],
      ['a key one character over maxKeyLength (256)', 'k'.repeat(257)],
      ['a 1 MiB key header', 'k'.repeat(1024 * 1024)],
    ])('%s: 401 invalid_api_key', async (_what, key) => {
      expect(await g().refused('/api/x', { headers: { 'x-api-key': key } })).toEqual({ status: 401, code: 'invalid_api_key', challenge: invalidKey, ...spared });
    });

    it.each<[string, string | string[]]>([
      ['an empty key header', ''],
      ['a key with a space', 'k-alice 0123456789'],
      ['a key with a quote', 'k-alice"0123456789'],
      ['a key with non-ASCII text', 'k-älice-0123456789'],
      ['two X-Api-Key headers (joined by a comma)', ['k-alice-0123456789', 'k-bob-0123456789']],
      ['the same key twice', ['k-alice-0123456789', 'k-alice-0123456789']],
    ])('%s: 400 invalid_request', async (_what, key) => {
      expect(await g().refused('/api/x', { headers: { 'x-api-key': key } })).toEqual({ status: 400, code: 'invalid_request', challenge: invalidRequest, ...spared });
    });
  });
});

describe('apiKey() reading a header, a query parameter and a cookie', () => {
  const sources = 'ApiKey realm="keys", header="x-api-key", query="api_key", cookie="api_key"';
  const g = behind(() => ({ keys: [{ key: 'k-carol-0123456789', consumer: 'carol', tier: 'free' }], from: [{ header: 'x-api-key' }, { query: 'api_key' }, { cookie: 'api_key' }], realm: 'keys' }));

  it('reads the query parameter and removes it from the upstream URI, keeping the rest', async () => {
    const echo = upstreamSaw(await g().send('/api/x?a=1&api_key=k-carol-0123456789&b=2'));
    expect({ url: echo.url, consumer: (seenScope(echo, 'consumer') as Consumer).id }).toEqual({ url: '/x?a=1&b=2', consumer: 'carol' });
  });

  it('reads a percent-encoded query parameter', async () => {
    expect(upstreamSaw(await g().send('/api/x?api%5Fkey=k-carol-0123456789')).url).toBe('/x');
  });

  it('reads the cookie and removes it from the Cookie header upstream, keeping the others', async () => {
    const echo = upstreamSaw(await g().send('/api/x', { headers: { cookie: 'theme=dark; api_key=k-carol-0123456789; lang=en' } }));
    expect({ cookie: echo.headers.cookie, consumer: (seenScope(echo, 'consumer') as Consumer).id }).toEqual({ cookie: 'theme=dark; lang=en', consumer: 'carol' });
  });

  it('names every place in the challenge', async () => {
    expect(await g().refused('/api/x')).toEqual({ status: 401, code: 'unauthorized', challenge: sources, ...spared });
  });

  it.each<[string, string, Record<string, string>]>([
    ['in the header and the query', '/api/x?api_key=k-carol-0123456789', { 'x-api-key': 'k-carol-0123456789' }],
    ['in the query and a cookie', '/api/x?api_key=k-carol-0123456789', { cookie: 'api_key=k-carol-0123456789' }],
    ['twice in the query', '/api/x?api_key=k-carol-0123456789&api_key=k-carol-0123456789', {}],
    ['in two cookies of the name', '/api/x', { cookie: 'api_key=k-carol-0123456789; api_key=k-carol-0123456789' }],
    ['as an empty query parameter', '/api/x?api_key=', {}],
    ['as a query parameter without a value', '/api/x?api_key', {}],
    ['with bad percent-encoding in the query', '/api/x?api_key=%E0%A4%A', {}],
    ['as an empty cookie', '/api/x', { cookie: 'api_key=' }],
  ])('refuses a key %s: 400 invalid_request', async (_what, path, headers) => {
    expect(await g().refused(path, { headers })).toEqual({ status: 400, code: 'invalid_request', challenge: `${sources}, error="invalid_request"`, ...spared });
  });
});

describe('apiKey() with forwardKey', () => {
  const g = behind(() => ({ keys: [{ key: 'k-dave-0123456789', consumer: 'dave' }], forwardKey: true }));
  it('keeps the key for the upstream', async () => {
    expect(upstreamSaw(await g().send('/api/x', { headers: { 'x-api-key': 'k-dave-0123456789' } })).headers['x-api-key']).toBe('k-dave-0123456789');
  });
});

describe('apiKey() with a pepper (HMAC-SHA256)', () => {
  const pepper = 'a pepper kept apart from the key store';
  const g = behind(() => ({
    keys: [
      { key: 'k-erin-0123456789', consumer: 'erin' },
      { hash: createHmac('sha256', pepper).update('k-frank-0123456789').digest('hex'), consumer: 'frank' },
      { hash: sha256('k-grace-0123456789'), consumer: 'grace' },
    ],
    pepper,
  }));

  it('hashes like HMAC-SHA256 keyed with the pepper, and plain SHA-256 without one', async () => {
    expect([await hashApiKey('k-frank-0123456789', { pepper }), await hashApiKey('k-frank-0123456789')]).toEqual([createHmac('sha256', pepper).update('k-frank-0123456789').digest('hex'), sha256('k-frank-0123456789')]);
  });

  it('passes plain keys and HMAC hashes', async () => {
    const ids = await Promise.all(['k-erin-0123456789', 'k-frank-0123456789'].map(async (key) => (seenScope(upstreamSaw(await g().send('/api/x', { headers: { 'x-api-key': key } })), 'consumer') as Consumer).id));
    expect(ids).toEqual(['erin', 'frank']);
  });

  it('refuses a key stored as its plain SHA-256 (not peppered): 401 invalid_api_key', async () => {
    expect(await g().refused('/api/x', { headers: { 'x-api-key': 'k-grace-0123456789' } })).toEqual({ status: 401, code: 'invalid_api_key', challenge: invalidKey, ...spared });
  });
});

describe('apiKey() with a lookup', () => {
  /** What the lookup was asked, and how it answers: a consumer, nothing, a throw, silence until released, or junk. */
  const asked: string[] = [];
  let mode: 'answer' | 'throw' | 'hold' | 'junk' = 'answer';
  let release: (() => void) | undefined;
  const g = behind(() => ({
    lookup: async (hash: string) => {
      asked.push(hash);
      if (mode === 'throw') throw new Error('the database is down');
      if (mode === 'hold') await new Promise<void>((resolve) => (release = resolve));
      if (mode === 'junk') return { tier: 'pro' } as unknown as Consumer;
      return hash === sha256('k-db-0123456789') ? { id: 'db-user', tier: 'enterprise' } : undefined;
    },
    timeout: 300,
  }));

  it('asks the lookup with the hex SHA-256 of the key, never the key', async () => {
    mode = 'answer';
    asked.length = 0;
    expect(seenScope(upstreamSaw(await g().send('/api/x', { headers: { 'x-api-key': 'k-db-0123456789' } })), 'consumer')).toEqual({ id: 'db-user', tier: 'enterprise' });
    expect(asked).toEqual([sha256('k-db-0123456789')]);
  });

  it('refuses a key the lookup does not know: 401 invalid_api_key', async () => {
    mode = 'answer';
    expect(await g().refused('/api/x', { headers: { 'x-api-key': 'k-nobody-0123456789' } })).toEqual({ status: 401, code: 'invalid_api_key', challenge: invalidKey, ...spared });
  });

  it('a lookup that throws: 503 auth_unavailable with Retry-After, no challenge', async () => {
    mode = 'throw';
    const reply = await g().send('/api/x', { headers: { 'x-api-key': 'k-db-0123456789' } });
    expect({ status: reply.status, code: reply.json<{ error: { code: string } }>().error.code, retryAfter: reply.headers['retry-after'], challenge: reply.headers['www-authenticate'], busy: g().busy() }).toEqual({
      status: 503,
      code: 'auth_unavailable',
      retryAfter: '1',
      challenge: undefined,
      busy: 0,
    });
  });

  it('a lookup that does not answer: 503 auth_unavailable once the timeout passed, not a hang', async () => {
    mode = 'hold';
    release = undefined;
    const before = g().upstream.seen.length;
    const reply = await g().send('/api/x', { headers: { 'x-api-key': 'k-db-0123456789' } });
    // The lookup is still held: the answer came from the timeout.
    expect({ status: reply.status, code: reply.json<{ error: { code: string } }>().error.code, held: release !== undefined, upstreamRequests: g().upstream.seen.length - before }).toEqual({
      status: 503,
      code: 'auth_unavailable',
      held: true,
      upstreamRequests: 0,
    });
    release!();
  });

  it('a lookup that answers something that is not a consumer: 500 internal', async () => {
    mode = 'junk';
    expect(await g().refused('/api/x', { headers: { 'x-api-key': 'k-db-0123456789' } })).toMatchObject({ status: 500, code: 'internal', ...spared });
  });
});

describe('memoryKeyStore()', () => {
  it('answers a lookup at once, with no promise to wait on (no thread-pool hash, so no timeout can fire on a busy host)', () => {
    const store = memoryKeyStore([{ key: 'k-judy-0123456789', consumer: 'judy', tier: 'pro' }, { key: 'k-mike-0123456789', consumer: 'mike', revoked: true }], { pepper: 'a pepper of sixteen+ bytes' });
    const peppered = createHmac('sha256', 'a pepper of sixteen+ bytes');
    expect([store.lookup(peppered.update('k-judy-0123456789').digest('hex')), store.lookup(sha256('k-judy-0123456789')), store.lookup(createHmac('sha256', 'a pepper of sixteen+ bytes').update('k-mike-0123456789').digest('hex'))]).toEqual([
      { id: 'judy', tier: 'pro' },
      undefined,
      undefined,
    ]);
  });

  it('revokes a key while it runs: the next request with it is refused', async () => {
    const store = memoryKeyStore([{ key: 'k-heidi-0123456789', consumer: 'heidi' }]);
    const g = await startAuthGateway([apiKey({ lookup: store.lookup })]);
    try {
      const pass = (await g.send('/api/x', { headers: { 'x-api-key': 'k-heidi-0123456789' } })).status;
      await store.revoke('k-heidi-0123456789');
      expect([pass, await g.refused('/api/x', { headers: { 'x-api-key': 'k-heidi-0123456789' } })]).toEqual([200, { status: 401, code: 'invalid_api_key', challenge: invalidKey, ...spared }]);
    } finally {
      await g.close();
    }
  });
});

describe('apiKey({ allowPreflight })', () => {
  const g = behind(() => ({ keys: [{ key: 'k-ivan-0123456789', consumer: 'ivan' }], allowPreflight: true }));

  it('lets a CORS preflight through to the upstream without a key', async () => {
    const echo = upstreamSaw(await g().send('/api/x', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } }));
    expect({ method: echo.method, consumer: seenScope(echo, 'consumer') }).toEqual({ method: 'OPTIONS', consumer: undefined });
  });

  it('still checks an OPTIONS request that is not a preflight', async () => {
    expect(await g().refused('/api/x', { method: 'OPTIONS' })).toEqual({ status: 401, code: 'unauthorized', challenge, ...spared });
  });
});

describe('gateway.routes()', () => {
  it('lists the API key requirement as an OpenAPI apiKey scheme', async () => {
    const g = await startAuthGateway([apiKey({ keys: [], from: [{ header: 'x-api-key' }, { query: 'key' }] })]);
    try {
      expect(g.gateway.routes().map((route) => route.middleware)).toEqual([
        [{ name: 'api-key', describe: { security: { type: 'apiKey', in: 'header', name: 'x-api-key' }, realm: 'api', keyFrom: ['header:x-api-key', 'query:key'] } }],
      ]);
    } finally {
      await g.close();
    }
  });
});

describe('configuration mistakes are GatewayBuildErrors (invalid_option)', () => {
  it.each<[string, () => unknown, string]>([
    ['no store', () => apiKey({}), 'apiKey()'],
    ['both keys and lookup', () => apiKey({ keys: [], lookup: () => undefined }), 'apiKey()'],
    ['a short pepper', () => apiKey({ keys: [], pepper: 'short' }), 'apiKey()'],
    ['a zero timeout', () => apiKey({ keys: [], timeout: 0 }), 'apiKey()'],
    ['no source', () => apiKey({ keys: [], from: [] }), 'apiKey()'],
    ['the Authorization header as a source', () => apiKey({ keys: [], from: [{ header: 'Authorization' }] }), 'apiKey()'],
    ['a bad header name', () => apiKey({ keys: [], from: [{ header: 'x key' }] }), 'apiKey()'],
    ['a consumer header that is Cookie', () => apiKey({ keys: [], consumerHeaders: { id: 'cookie' } }), 'apiKey()'],
    ['a realm with a quote', () => apiKey({ keys: [], realm: 'a"b' }), 'apiKey()'],
    ['an entry with key and hash', () => apiKey({ keys: [{ key: 'a', hash: sha256('a'), consumer: 'x' }] }), 'apiKey() keys[0]'],
    ['an entry with neither', () => apiKey({ keys: [{ consumer: 'x' }] }), 'apiKey() keys[0]'],
    ['an entry with a short hash', () => apiKey({ keys: [{ hash: 'abc', consumer: 'x' }] }), 'apiKey() keys[0]'],
    ['an entry with a key of spaces', () => apiKey({ keys: [{ key: 'a b', consumer: 'x' }] }), 'apiKey() keys[0]'],
    ['an entry without a consumer', () => apiKey({ keys: [{ key: 'abc', consumer: '' }] }), 'apiKey() keys[0]'],
    ['the same key twice', () => apiKey({ keys: [{ key: 'abc', consumer: 'x' }, { key: 'abc', consumer: 'y' }] }), 'apiKey() keys[1]'],
  ])('%s', (_what, make, at) => {
    expect(buildProblems(make)).toEqual([['invalid_option', at]]);
  });
});
