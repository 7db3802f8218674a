import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { eventually, parseHead, pausedDownload, pausedUpload, rawRequest, untilStuck } from '@apigate/test-utils/http';
import { SignJWT } from 'jose';
import { apiToken, authAudience, authSecret, clientHeader, gatewaySecret, hourlyLimit, requestTimeout, transformedHeader, userHeader } from '../src/gateway.ts';
import { adapterNames, describeAdapters, type AdapterName } from './adapters.ts';
import { begin, drip, ending, nextChunk, open, poll, rest, send, sendPartial, within, type Reply } from './client.ts';
import { conform, converges, observations } from './divergences.ts';
import { holdings, leftOver } from './leaks.ts';
import { bigBody, floodBytes, sha256, trickleChunks, variedBody, type Echo } from './upstreams.ts';

/** A rendered gateway error as the json renderer writes it. */
type Rendered = { error: { code: string; message: string; status: number; issues?: { in: string; path: (string | number)[]; message: string }[] } };

const isJson = (reply: Reply): boolean => String(reply.headers['content-type']).startsWith('application/json');

/** Status and error code of a gateway-rendered error (`gateway: false` when the host app answered). */
const failure = (reply: Reply): Record<string, unknown> => {
  const rendered = isJson(reply) ? reply.json<Partial<Rendered>>().error : undefined;
  return {
    status: reply.status,
    gateway: rendered !== undefined,
    code: rendered?.code,
    contentType: rendered === undefined ? undefined : reply.headers['content-type'],
    bodyStatus: rendered?.status,
  };
};

const renderedType = 'application/json; charset=utf-8';
const rendered = (status: number, code: string) => ({ status, gateway: true, code, contentType: renderedType, bodyStatus: status });

/** What the echo upstream saw, trimmed to what a case compares. */
const seen = (reply: Reply): Echo => {
  expect(reply.status).toBe(200);
  return reply.json<Echo>();
};

const json = { 'content-type': 'application/json' };

/** What the host app's own 404 looks like: not a gateway error. */
const notGateway = { status: 404, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined };

/**
 * Request targets that URL parsing would resolve or re-read, sent on the wire as written (curl
 * --path-as-is). `refused`: a parameter that could change the upstream path, 400 invalid_path.
 * Otherwise no gateway route matches the target as sent, so the app answers 404; the `/refused`
 * prefix escapes would land on the echo service if matched on the resolved path.
 */
const pathSafety: readonly { readonly name: string; readonly target: string; readonly refused: boolean }[] = [
  { name: 'a `..` parameter', target: '/echo/files/..', refused: true },
  { name: 'a `%2e%2e` parameter', target: '/echo/files/%2e%2e', refused: true },
  { name: 'a `%2E%2e` parameter', target: '/echo/files/%2E%2e', refused: true },
  { name: 'a `.` parameter', target: '/echo/files/.', refused: true },
  { name: 'a `%2e` parameter', target: '/echo/files/%2e', refused: true },
  { name: 'an encoded slash in a parameter', target: '/echo/files/a%2Fb', refused: true },
  { name: 'a lower-case encoded slash in a parameter', target: '/echo/files/a%2fb', refused: true },
  { name: 'an encoded backslash in a parameter', target: '/echo/files/a%5Cb', refused: true },
  { name: 'a backslash in a parameter', target: '/echo/files/a\\b', refused: true },
  { name: 'an absolute URL in a parameter', target: '/echo/files/http:%2F%2Fevil.example%2Fx', refused: true },
  { name: 'a `.` segment', target: '/echo/./ping', refused: false },
  { name: 'a `%2e` segment', target: '/echo/%2e/ping', refused: false },
  { name: 'a prefix escape with `..`', target: '/refused/../echo/ping', refused: false },
  { name: 'a prefix escape with `%2e%2e`', target: '/refused/%2e%2e/echo/ping', refused: false },
  { name: 'a prefix escape with `%2E%2e`', target: '/refused/%2E%2e/echo/ping', refused: false },
  { name: 'a prefix escape with `.%2e`', target: '/refused/.%2e/echo/ping', refused: false },
  { name: 'a prefix escape with backslashes', target: '/refused\\..\\echo\\ping', refused: false },
];

describeAdapters(adapterNames, (f, adapter) => {
  const get = (path: string, headers: Record<string, string> = {}) => send(f.target.base, path, { headers });
  /** Runs a request and says, besides its reply, how many requests reached the echo upstream. */
  const counting = async (request: () => Promise<Reply>): Promise<{ reply: Reply; upstreamRequests: number }> => {
    const before = f.upstreams.echo[0]!.requests();
    const reply = await request();
    return { reply, upstreamRequests: f.upstreams.echo[0]!.requests() - before };
  };
  /** A refusal: the rendered failure, and whether the upstream was spared. */
  const refusal = async (request: () => Promise<Reply>): Promise<Record<string, unknown>> => {
    const { reply, upstreamRequests } = await counting(request);
    return { ...failure(reply), upstreamRequests };
  };

  const port = (): number => Number(new URL(f.target.base).port);
  /** How the gateway settled the requests for `path` so far (its observer's record, asked through a route). */
  const settledOf = async (path: string): Promise<(number | string)[]> => (await get(`/probe/settled?path=${encodeURIComponent(path)}`)).json<{ settled: (number | string)[] }>().settled;
  /**
   * Runs a fault case and adds to what it observed: how the gateway settled the request for `path`,
   * that the app still serves, and what the case left behind (see leaks.ts).
   */
  const fault = async (path: string, run: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> => {
    const before = await holdings(f);
    const earlier = (await settledOf(path)).length;
    const observed = await run();
    const settled = (await poll(() => settledOf(path), (list) => list.length > earlier)).slice(earlier);
    const serving = (await get('/own')).status;
    return { ...observed, settled, serving, leftOver: await leftOver(f, before) };
  };
  /** What `fault` adds for a case that settled as `settled` and released everything. */
  const cleanly = (settled: (number | string)[]) => ({ settled, serving: 200, leftOver: [] });

  describe('rewrites', () => {
    it('forwards a passthrough route with its path and query as sent', async () => {
      const echo = seen(await get('/echo/ping?x=1&y=a%20b&y=%2F'));
      conform('passthrough', adapter, { name: echo.name, method: echo.method, url: echo.url }, { name: 'a', method: 'GET', url: '/ping?x=1&y=a%20b&y=%2F' });
    });

    it('rewrites to a static path and keeps the query', async () => {
      const echo = seen(await get('/echo/public?a=1'));
      conform('static rewrite', adapter, { url: echo.url }, { url: '/internal?a=1' });
    });

    it("substitutes a template parameter and puts the template's query before the client's", async () => {
      const echo = seen(await get('/echo/search/shoes?page=2'));
      conform('template rewrite with query', adapter, { url: echo.url }, { url: '/find/shoes?source=gateway&page=2' });
    });

    it('re-encodes a percent-encoded parameter per segment', async () => {
      const echo = seen(await get('/echo/files/a%20b%3F%23.txt'));
      conform('percent-encoded parameter', adapter, { url: echo.url }, { url: '/raw/a%20b%3F%23.txt' });
    });

    it('forwards query characters that URL parsers would percent-encode as the client sent them', async () => {
      const echo = seen(await get(`/echo/ping?q="x"<y>'z'`));
      conform('query sent as is', adapter, { url: echo.url }, { url: `/ping?q="x"<y>'z'` });
    });

    it('forwards an absolute-form request target to the chosen backend, never to the host it names', async () => {
      const reply = await get('http://evil.example/echo/ping');
      const echo = reply.status === 200 ? reply.json<Echo>() : undefined;
      conform('absolute-form target', adapter, { status: reply.status, name: echo?.name, url: echo?.url }, { status: 200, name: 'a', url: '/ping' });
    });
  });

  describe('path safety: matched on the raw request target, for GET and HEAD', () => {
    for (const { name, target, refused } of pathSafety) {
      it(`${refused ? 'refuses' : 'leaves to the app'} ${name} (\`${target}\`) on GET, and the echo service gets nothing`, async () => {
        const observed = await refusal(() => get(target));
        conform(`path safety: ${name}`, adapter, observed, refused ? { ...rendered(400, 'invalid_path'), upstreamRequests: 0 } : { ...notGateway, upstreamRequests: 0 });
      });

      it(`answers HEAD for ${name} (\`${target}\`) as GET, with no body, and the echo service gets nothing`, async () => {
        // A HEAD has no body to carry the error code: the status and the gateway renderer's content
        // type (the json renderer's, which neither the app nor the echo upstream send) say who answered.
        const { reply, upstreamRequests } = await counting(() => send(f.target.base, target, { method: 'HEAD' }));
        const gateway = reply.headers['content-type'] === renderedType;
        conform(
          `path safety: ${name} (HEAD)`,
          adapter,
          { status: reply.status, gateway, contentType: gateway ? reply.headers['content-type'] : undefined, body: reply.text, upstreamRequests },
          { status: refused ? 400 : 404, gateway: refused, contentType: refused ? renderedType : undefined, body: '', upstreamRequests: 0 },
        );
      });
    }
  });

  describe('catch-all routes', () => {
    it('forwards the tail with the encoding the client sent', async () => {
      const echo = seen(await get('/files/a%20b/caf%C3%A9/x+y%2B/~z?q=1&r=%2F'));
      conform('catch-all tail as sent', adapter, { url: echo.url }, { url: '/store/a%20b/caf%C3%A9/x+y%2B/~z?q=1&r=%2F' });
    });

    it('matches the prefix itself and keeps a trailing slash', async () => {
      const bare = seen(await get('/files'));
      const slash = seen(await get('/files/dir/'));
      conform('catch-all prefix and trailing slash', adapter, { bare: bare.url, slash: slash.url }, { bare: '/store', slash: '/store/dir/' });
    });

    it('strips the prefix and keeps the tail on a catch-all route without `to`', async () => {
      const echo = seen(await get('/mirror/users/42/?expand=1'));
      conform('catch-all without to', adapter, { url: echo.url }, { url: '/users/42/?expand=1' });
    });

    it('forwards a PATCH and a QUERY, with their bodies, through all()', async () => {
      const patch = seen(await send(f.target.base, '/files/doc/1', { method: 'PATCH', headers: json, body: '{"title":"t"}' }));
      const query = seen(await send(f.target.base, '/files/search', { method: 'QUERY', headers: json, body: '{"q":"shoes"}' }));
      conform(
        'all() forwards PATCH and QUERY',
        adapter,
        { patch: [patch.method, patch.url, patch.body], query: [query.method, query.url, query.body] },
        { patch: ['PATCH', '/store/doc/1', '{"title":"t"}'], query: ['QUERY', '/store/search', '{"q":"shoes"}'] },
      );
    });

    it('forwards OPTIONS on an all() route to the upstream instead of answering it', async () => {
      const echo = seen(await send(f.target.base, '/files/doc/1', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'PATCH' } }));
      conform('all() forwards OPTIONS', adapter, { method: echo.method, url: echo.url, origin: echo.headers.origin }, { method: 'OPTIONS', url: '/store/doc/1', origin: 'http://app.example' });
    });

    const traversals = [
      ['an encoded `..` segment', '/files/a/%2e%2e/b'],
      ['`..` with an encoded slash', '/files/..%2fetc'],
      ['encoded slashes around `..`', '/files/a%2f..%2fb'],
      ['an encoded backslash', '/files/a%5c..%5cb'],
      ['an absolute URL', '/files/http://evil.example/x'],
      ['a scheme-relative `//evil`', '/files//evil.example/x'],
      ['`//evil` on a route without `to`', '/mirror//evil.example'],
    ] as const;
    for (const [what, path] of traversals) {
      it(`refuses ${what} in the tail with 400 invalid_path, without calling the upstream: ${path}`, async () => {
        const { reply, upstreamRequests } = await counting(() => get(path));
        const upstreamUrl = reply.status === 200 ? reply.json<Echo>().url : undefined;
        conform(`catch-all refuses ${what}`, adapter, { ...failure(reply), upstreamRequests, upstreamUrl }, { ...rendered(400, 'invalid_path'), upstreamRequests: 0, upstreamUrl: undefined });
      });
    }
  });

  describe('hooks', () => {
    it('answers 401 rendered by the gateway when the hook refuses, without calling the upstream', async () => {
      conform('hook refuses', adapter, await refusal(() => get('/echo/private')), { ...rendered(401, 'unauthorized'), upstreamRequests: 0 });
    });

    it('forwards the headers the hook set and not the ones it removed', async () => {
      const echo = seen(await get('/echo/private', { authorization: apiToken }));
      conform('hook sets a header', adapter, { url: echo.url, user: echo.headers[userHeader], authorization: echo.headers.authorization }, { url: '/private', user: 'user-1', authorization: undefined });
    });
  });

  describe('JWT auth (@apigate/auth) on a service', () => {
    const key = new TextEncoder().encode(authSecret);
    const token = (claims: Record<string, unknown>, expiresIn = 3600): Promise<string> =>
      new SignJWT({ aud: authAudience, ...claims }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn).sign(key);
    /** A refusal with its challenge. */
    const challenged = async (path: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> => {
      const { reply, upstreamRequests } = await counting(() => get(path, headers));
      return { ...failure(reply), upstreamRequests, challenge: reply.headers['www-authenticate'] };
    };

    it("passes a valid token: the upstream gets the user header from `sub`, not the client's, and no Authorization", async () => {
      const echo = seen(await get('/auth/me', { authorization: `Bearer ${await token({ sub: 'alice' })}`, [userHeader]: 'mallory' }));
      conform('jwt passes', adapter, { url: echo.url, user: echo.headers[userHeader], authorization: echo.headers.authorization }, { url: '/me', user: 'alice', authorization: undefined });
    });

    it('answers 401 with a bare Bearer challenge when no token came', async () => {
      conform('jwt missing', adapter, await challenged('/auth/me'), { ...rendered(401, 'unauthorized'), upstreamRequests: 0, challenge: 'Bearer realm="api"' });
    });

    it('answers 401 invalid_token to an expired token', async () => {
      conform('jwt expired', adapter, await challenged('/auth/me', { authorization: `Bearer ${await token({ sub: 'alice' }, -3600)}` }), {
        ...rendered(401, 'invalid_token'),
        upstreamRequests: 0,
        challenge: 'Bearer realm="api", error="invalid_token", error_description="The access token expired."',
      });
    });

    it('answers 403 insufficient_scope when the route needs a scope the token lacks, and passes it with the scope', async () => {
      const without = await challenged('/auth/orders', { authorization: `Bearer ${await token({ sub: 'alice', scope: 'profile' })}` });
      const withScope = seen(await get('/auth/orders', { authorization: `Bearer ${await token({ sub: 'alice', scope: 'profile orders:read' })}` }));
      conform('jwt scope', adapter, { without, withScope: withScope.url }, {
        without: { ...rendered(403, 'insufficient_scope'), upstreamRequests: 0, challenge: 'Bearer realm="api", error="insufficient_scope", scope="orders:read"' },
        withScope: '/orders',
      });
    });
  });

  describe('JWT against a remote JWKS, and token introspection (@apigate/auth)', () => {
    /** A refusal with its challenge and Retry-After. */
    const challenged = async (path: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> => {
      const { reply, upstreamRequests } = await counting(() => get(path, headers));
      return { ...failure(reply), upstreamRequests, challenge: reply.headers['www-authenticate'], retryAfter: reply.headers['retry-after'] };
    };
    const invalid = { ...rendered(401, 'invalid_token'), upstreamRequests: 0, challenge: 'Bearer realm="api", error="invalid_token"', retryAfter: undefined };
    const unavailable = { ...rendered(503, 'auth_unavailable'), upstreamRequests: 0, challenge: undefined, retryAfter: '1' };
    /** Nothing stays open to the IdP: every answer of it closes its connection. */
    const idpIdle = async (): Promise<boolean> => {
      await poll(async () => (await f.upstreams.jwks.connections()) + (await f.upstreams.introspection.connections()), (open) => open === 0);
      return true;
    };

    it('passes an RS256 token of the key set: the upstream gets the user header from `sub`, no Authorization', async () => {
      const echo = seen(await get('/auth-jwks/me', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'alice' })}`, [userHeader]: 'mallory' }));
      conform('remote jwks passes', adapter, { url: echo.url, user: echo.headers[userHeader], authorization: echo.headers.authorization, idle: await idpIdle() }, { url: '/me', user: 'alice', authorization: undefined, idle: true });
    });

    it('finds a key rotated into the set, and refuses a kid the set does not have: 401 invalid_token', async () => {
      const kid = `${adapter}-rotated`;
      await f.upstreams.jwks.rotateIn(kid);
      const rotated = seen(await get('/auth-jwks/me', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'bob' }, kid)}` }));
      const unknown = await challenged('/auth-jwks/me', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'eve' }, `${adapter}-nobody`)}` });
      const traversal = await challenged('/auth-jwks/me', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'eve' }, '../../etc/passwd')}` });
      conform('remote jwks rotation', adapter, { rotated: rotated.headers[userHeader], unknown, traversal }, { rotated: 'bob', unknown: invalid, traversal: invalid });
    });

    it('answers 403 insufficient_scope behind the remote-JWKS jwt() where the route needs a scope', async () => {
      conform('remote jwks scope', adapter, await challenged('/auth-jwks/orders', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'alice', scope: 'profile' })}` }), {
        ...rendered(403, 'insufficient_scope'),
        upstreamRequests: 0,
        challenge: 'Bearer realm="api", error="insufficient_scope", scope="orders:read"',
        retryAfter: undefined,
      });
    });

    it('answers 503 auth_unavailable, without a challenge, when the key set cannot be fetched', async () => {
      conform('remote jwks down', adapter, await challenged('/auth-jwks-down/me', { authorization: `Bearer ${await f.upstreams.jwks.sign({ sub: 'alice' })}` }), unavailable);
    });

    it('passes a token the introspection endpoint says is active: the user header from its `sub`', async () => {
      const token = `${adapter}-active`;
      f.upstreams.introspection.tokens.set(token, { active: true, sub: 'carol', aud: authAudience, scope: 'orders:read', exp: Math.floor(Date.now() / 1000) + 3600 });
      const echo = seen(await get('/auth-introspect/orders', { authorization: `Bearer ${token}`, [userHeader]: 'mallory' }));
      const calls = f.upstreams.introspection.calls();
      // Cached: the same token again is no call.
      seen(await get('/auth-introspect/me', { authorization: `Bearer ${token}` }));
      conform('introspection passes', adapter, { url: echo.url, user: echo.headers[userHeader], authorization: echo.headers.authorization, again: f.upstreams.introspection.calls() - calls, idle: await idpIdle() }, { url: '/orders', user: 'carol', authorization: undefined, again: 0, idle: true });
    });

    it('refuses an inactive token 401 invalid_token, one without the scope 403, and no token 401 with the bare challenge', async () => {
      const narrow = `${adapter}-narrow`;
      f.upstreams.introspection.tokens.set(narrow, { active: true, sub: 'carol', aud: authAudience, scope: 'profile', exp: Math.floor(Date.now() / 1000) + 3600 });
      conform('introspection refusals', adapter, {
        inactive: await challenged('/auth-introspect/me', { authorization: `Bearer ${adapter}-revoked` }),
        scope: await challenged('/auth-introspect/orders', { authorization: `Bearer ${narrow}` }),
        none: await challenged('/auth-introspect/me'),
      }, {
        inactive: invalid,
        scope: { ...rendered(403, 'insufficient_scope'), upstreamRequests: 0, challenge: 'Bearer realm="api", error="insufficient_scope", scope="orders:read"', retryAfter: undefined },
        none: { ...rendered(401, 'unauthorized'), upstreamRequests: 0, challenge: 'Bearer realm="api"', retryAfter: undefined },
      });
    });

    it('answers 503 auth_unavailable when the introspection endpoint cannot be reached', async () => {
      conform('introspection down', adapter, await challenged('/auth-introspect-down/me', { authorization: `Bearer ${adapter}-any` }), unavailable);
    });
  });

  describe("the client's Connection tokens and transfer codings", () => {
    it('keeps the headers a hook set when the client lists them in Connection', async () => {
      const echo = seen(await get('/echo/secret', { connection: 'authorization, x-api-key', authorization: 'Bearer client', 'x-api-key': 'client-key' }));
      conform('Connection cannot strip hook headers', adapter, { authorization: echo.headers.authorization, apiKey: echo.headers['x-api-key'] }, { authorization: gatewaySecret, apiKey: 'gateway-key' });
    });

    it("drops the client's own header that its Connection lists, before the hook reads it", async () => {
      conform('Connection strips what the client sent', adapter, await refusal(() => get('/echo/private', { connection: 'authorization', authorization: apiToken })), { ...rendered(401, 'unauthorized'), upstreamRequests: 0 });
    });

    it('keeps the body and its Content-Length when the client lists content-length in Connection', async () => {
      const echo = seen(await send(f.target.base, '/echo/upload', { method: 'POST', headers: { connection: 'content-length', 'content-type': 'application/octet-stream', 'content-length': 5 }, body: 'hello' }));
      conform('Connection cannot strip Content-Length', adapter, { body: echo.body, length: echo.headers['content-length'] }, { body: 'hello', length: '5' });
    });

    it('keeps the Host the client sent when it lists host in Connection', async () => {
      const echo = seen(await get('/echo/ping', { connection: 'host' }));
      // The gateway's own port differs per app: what is compared is whether it is the one the client used.
      const sentHost = echo.headers['x-forwarded-host'] === new URL(f.target.base).host;
      conform('Connection cannot strip Host', adapter, { sentHost, host: echo.headers.host }, { sentHost: true, host: new URL(f.upstreams.origins.echo[0]!).host });
    });

    it('answers 415 when the client lists content-type in Connection on a validated JSON route: no body goes up untyped', async () => {
      const body = JSON.stringify({ sku: 'a', qty: 1 });
      conform('Connection strips Content-Type before validation', adapter, await refusal(() => send(f.target.base, '/echo/orders', { method: 'POST', headers: { ...json, connection: 'content-type' }, body })), { ...rendered(415, 'unsupported_media_type'), upstreamRequests: 0 });
    });

    it('answers 501 not_implemented to a transfer coding other than chunked, without calling the upstream', async () => {
      const { reply, upstreamRequests } = await counting(() => send(f.target.base, '/echo/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'gzip, chunked' }, body: 'not really gzip' }));
      conform('transfer coding other than chunked', adapter, { ...failure(reply), upstreamRequests, connection: reply.headers.connection }, { ...rendered(501, 'not_implemented'), upstreamRequests: 0, connection: 'close' });
    });
  });

  describe('attempts sent again by a retry middleware', () => {
    type RetryLog = { settled: string[]; attempts: string[] };
    const retryLog = async (): Promise<RetryLog> => (await get('/retry-log/all')).json<RetryLog>();
    /** How the gateway settled the requests of `run`, as the retry middleware's settle, the balancer and the observer heard them. */
    const settledBy = async (path: string, run: () => Promise<Reply>) => {
      const before = await retryLog();
      const observed = (await settledOf(path)).length;
      const reply = await run();
      const after = await poll(retryLog, (now) => now.settled.length > before.settled.length);
      return { reply, log: after.settled.slice(before.settled.length), balancer: after.attempts.slice(before.attempts.length), observer: (await settledOf(path)).slice(observed) };
    };
    const refusedOrigin = () => f.upstreams.origins.refused;
    const echoB = () => f.upstreams.origins.echo[1]!;

    it('sends a request that met a refused backend to another one, with the attempt number, and settles once there', async () => {
      const { reply, log, balancer, observer } = await settledBy('/retry/other/ping', () => get('/retry/other/ping'));
      const echo = seen(reply);
      conform(
        'retry to another backend',
        adapter,
        { name: echo.name, attempt: echo.headers['x-attempt'], log, balancer, observer },
        {
          name: 'b',
          attempt: '2',
          log: [`/retry/other/ping 200 ${echoB()}`],
          balancer: [`start ${refusedOrigin()}`, `end ${refusedOrigin()} upstream_unreachable`, `start ${echoB()}`, `end ${echoB()} 200`],
          observer: ['upstream_unreachable', 200],
        },
      );
    });

    it('does not send a streamed body again: the client gets the first failure', async () => {
      const { reply, log } = await settledBy('/retry/other/upload', () => send(f.target.base, '/retry/other/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'streamed, not held' }));
      conform('no retry of a streamed body', adapter, { ...failure(reply), log }, { ...rendered(502, 'upstream_unreachable'), log: [`/retry/other/upload 502 upstream_unreachable ${refusedOrigin()}`] });
    });

    it('ends with the last failure once every backend was tried', async () => {
      const { reply, log, observer } = await settledBy('/retry/none/ping', () => get('/retry/none/ping'));
      conform('retry with every backend tried', adapter, { ...failure(reply), log, observer }, { ...rendered(502, 'upstream_unreachable'), log: [`/retry/none/ping 502 upstream_unreachable ${refusedOrigin()}`], observer: ['upstream_unreachable', 'upstream_unreachable'] });
    });

    it('never sends to a backend the service does not have, and reports the middleware', async () => {
      const failures = async (): Promise<string[]> => (await get('/faulty/failures')).json<{ failures: string[] }>().failures;
      const before = (await failures()).length;
      const reply = await get('/retry/rogue/ping');
      const reported = (await failures()).slice(before);
      conform('retry to a backend not configured', adapter, { ...failure(reply), reported }, { ...rendered(502, 'upstream_unreachable'), reported: ['rogue.retry'] });
    });
  });

  describe('middleware at gateway, service and route level', () => {
    const settledLog = async (): Promise<string[]> => (await get('/mw-log/settled')).json<{ settled: string[] }>().settled;
    const endedLog = async (): Promise<{ ended: string[]; ids: number }> => (await get('/mw-log/ended')).json<{ ended: string[]; ids: number }>();

    it('runs request phases gateway → service → route and response phases back on a proxied response', async () => {
      const reply = await get('/mw/echo');
      conform('middleware onion, proxied', adapter, { status: reply.status, order: reply.json<Echo>().headers['x-order'], onion: reply.headers['x-onion'] }, { status: 200, order: 'sr', onion: 'route, service, gateway' });
    });

    it("adds the response headers to a hook's own response", async () => {
      const reply = await get('/mw/hook');
      conform('middleware on a hook response', adapter, { status: reply.status, body: reply.text, onion: reply.headers['x-onion'] }, { status: 202, body: 'made by a hook', onion: 'route, service, gateway' });
    });

    it('passes a refusal by the service middleware through it and the gateway only, not the route inside', async () => {
      const { reply, upstreamRequests } = await counting(() => get('/mw/echo', { 'x-deny': '1' }));
      conform('middleware refusal', adapter, { ...failure(reply), upstreamRequests, onion: reply.headers['x-onion'] }, { ...rendered(401, 'unauthorized'), upstreamRequests: 0, onion: 'service, gateway' });
    });

    it('adds the response headers to upstream errors and to 405 answers', async () => {
      const unreachable = await get('/mw/refused/any');
      const wrongMethod = await send(f.target.base, '/mw/echo', { method: 'DELETE' });
      conform(
        'middleware on gateway errors',
        adapter,
        { unreachable: [failure(unreachable).code, unreachable.headers['x-onion']], wrongMethod: [wrongMethod.status, wrongMethod.headers['x-onion']] },
        { unreachable: ['upstream_unreachable', 'route, service, gateway'], wrongMethod: [405, 'gateway'] },
      );
    });

    it('settles exactly once per request, however it ended, and the observer hears each end once with its own id', async () => {
      const before = (await settledLog()).length;
      const endedBefore = (await endedLog()).ended.length;
      await get('/mw/echo');
      await get('/mw/echo', { 'x-deny': '1' });
      await get('/mw/hook');
      await send(f.target.base, '/mw/echo', { method: 'DELETE' });
      await get('/mw/slow/wait');
      await get('/mw/refused/any');
      await ending(f.target.base, '/mw/cut');
      const hold = f.upstreams.echo[0]!.nextHold();
      const { res, abort } = await open(f.target.base, '/mw/hold');
      await hold.started;
      await nextChunk(res);
      abort();
      await hold.closed;
      const log = await poll(settledLog, (entries) => entries.length >= before + 8);
      // Give a second settle of any request the chance to show up before comparing.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const entries = (await settledLog()).slice(before);
      const ended = await endedLog();
      conform(
        'middleware settle once per ending',
        adapter,
        { count: log.length - before, entries: [...entries].sort(), observed: [...ended.ended.slice(endedBefore)].sort(), ids: ended.ids === ended.ended.length },
        {
          count: 8,
          // A status is there when the client got one: the gateway's 504 and 502 for the upstream faults, none for the cut body or the client that left.
          entries: [
            '/mw/cut upstream_reset',
            '/mw/echo 200',
            '/mw/echo 401 unauthorized',
            '/mw/echo 405 method_not_allowed',
            '/mw/hold client_closed',
            '/mw/hook 202',
            '/mw/refused/any 502 upstream_unreachable',
            '/mw/slow/wait 504 upstream_timeout',
          ],
          observed: [
            '/mw/cut upstream_reset proxied',
            '/mw/echo 200 proxied',
            '/mw/echo 401 unauthorized made',
            '/mw/echo 405 method_not_allowed made',
            '/mw/hold client_closed proxied',
            '/mw/hook 202 made',
            '/mw/refused/any 502 upstream_unreachable made',
            '/mw/slow/wait 504 upstream_timeout made',
          ],
          ids: true,
        },
      );
    });
  });

  describe('response body transforms', () => {
    const upperBig = Buffer.from(bigBody.toString('latin1').toUpperCase(), 'latin1');
    const reportedFailures = async (callback: string): Promise<number> => (await get('/faulty/failures')).json<{ failures: string[] }>().failures.filter((name) => name === callback).length;

    it('streams a proxied body through a transform, chunked, without the upstream Content-Length', async () => {
      const reply = await get('/tx/upper');
      conform(
        'transformed body',
        adapter,
        { status: reply.status, transformed: reply.headers[transformedHeader], contentLength: reply.headers['content-length'], chunked: reply.headers['transfer-encoding'] === 'chunked', length: reply.body.byteLength, same: reply.body.equals(upperBig) },
        { status: 200, transformed: 'true', contentLength: undefined, chunked: true, length: bigBody.byteLength, same: true },
      );
    });

    it('keeps a Content-Length that a middleware sets after the transform inside it', async () => {
      const reply = await get('/tx/upper-length');
      conform(
        'transformed body with its length',
        adapter,
        { status: reply.status, contentLength: reply.headers['content-length'], chunked: reply.headers['transfer-encoding'] === 'chunked', same: reply.body.equals(upperBig) },
        { status: 200, contentLength: String(bigBody.byteLength), chunked: false, same: true },
      );
    });

    it("runs transforms route → service → gateway, each level getting the inner one's output", async () => {
      const reply = await get('/tx-order/ping');
      const end = reply.text.lastIndexOf('}') + 1;
      const echo = reply.status === 200 ? JSON.parse(reply.text.slice(0, end)) as { NAME?: string; URL?: string } : {};
      conform('transform order', adapter, { status: reply.status, name: echo.NAME, url: echo.URL, marks: reply.text.slice(end) }, { status: 200, name: 'A', url: '/PING', marks: '|route|service|gateway' });
    });

    it('runs no transform for HEAD, and keeps the upstream Content-Length', async () => {
      const reply = await send(f.target.base, '/tx/upper', { method: 'HEAD' });
      conform(
        'HEAD with a transform',
        adapter,
        { status: reply.status, transformed: reply.headers[transformedHeader], contentLength: reply.headers['content-length'], body: reply.text },
        { status: 200, transformed: 'false', contentLength: String(bigBody.byteLength), body: '' },
      );
    });

    it('aborts the client connection, settles internal once and reports the middleware, when a transform throws mid-body', async () => {
      const reportedBefore = await reportedFailures('tx-fail.response');
      const observed = await fault('/tx/fail', async () => {
        const { status, end } = await ending(f.target.base, '/tx/fail');
        const reported = await poll(() => reportedFailures('tx-fail.response'), (count) => count > reportedBefore);
        return { status, end, reported: reported - reportedBefore };
      });
      conform('transform fails mid-body', adapter, observed, { status: 200, end: 'aborted', reported: 1, ...cleanly(['internal']) });
    });

    it('closes the upstream request and settles client_closed when the client leaves mid-transform', async () => {
      const hold = f.upstreams.echo[0]!.nextHold();
      const observed = await fault('/tx/hold', async () => {
        const { res, abort } = await open(f.target.base, '/tx/hold');
        await hold.started;
        const first = (await nextChunk(res)).toString();
        abort();
        return { first: first.slice(0, 5), closedEarly: await within(hold.closed, 10_000, 'still open') };
      });
      conform('client abort mid-transform', adapter, observed, { first: 'BEAT\n', closedEarly: true, ...cleanly(['client_closed']) });
    });

    it('delivers a whole transformed response to a client that stops reading for longer than requestTimeout', async () => {
      const flooding = f.upstreams.echo[0]!.nextFlood();
      const download = pausedDownload(port(), '/tx/flood');
      const status = await download.status;
      // Every buffer up to the client is full, the transform's too: the gateway waits on the client.
      await untilStuck(await flooding, requestTimeout);
      await sleep(3 * requestTimeout);
      const ended = await download.resume();
      conform('slow reader behind a transform', adapter, { status, ...ended, upstreamFinished: await (await flooding).finished }, { status: 200, bytes: floodBytes, complete: true, upstreamFinished: true });
    });
  });

  describe('user callbacks that throw', () => {
    // The balancer's and the observer's reports only: other cases (a failing body transform) add theirs.
    const failures = async (): Promise<string[]> =>
      (await get('/faulty/failures')).json<{ failures: string[] }>().failures.filter((name) => name.startsWith('balancer.') || name.startsWith('observer.'));

    it("reports a balancer's end and an observer that throw, and goes on serving", async () => {
      const first = await get('/faulty/ping');
      const cut = await ending(f.target.base, '/faulty/cut');
      const reported = await poll(failures, (list) => list.length >= 4);
      const after = await get('/faulty/ping');
      conform(
        'throwing balancer end and observer',
        adapter,
        { first: first.status, cut: cut.end, reported: [...reported].sort(), after: after.status },
        { first: 200, cut: 'aborted', reported: ['balancer.end', 'balancer.end', 'observer.upstreamFailed', 'observer.upstreamSucceeded'], after: 200 },
      );
    });

    it("answers 500 internal when the balancer's pick throws, and reports it", async () => {
      const reply = await get('/faulty-pick/ping');
      const reported = await poll(failures, (list) => list.includes('balancer.pick'));
      conform('throwing balancer pick', adapter, { ...failure(reply), reported: reported.includes('balancer.pick') }, { ...rendered(500, 'internal'), reported: true });
    });
  });

  describe('the platform and middleware init', () => {
    const reports = async (): Promise<string[]> => (await get('/platform/reports')).json<{ reports: string[] }>().reports;
    const count = (list: readonly string[], callback: string): number => list.filter((entry) => entry === callback).length;

    it("shows middleware the platform's env (a Worker binding and secret, the Node adapters' env option), after its init finished", async () => {
      const echo = seen(await get('/platform/audit'));
      conform('platform env', adapter, { secret: echo.headers['x-platform-secret'], loaded: echo.headers['x-audit-loaded'] }, { secret: 'conformance-secret', loaded: 'true' });
    });

    it("runs route hooks with the platform's env: a key checked against a Worker secret (the Node adapters' env option)", async () => {
      const wrong = await refusal(() => get('/platform/keyed', { 'x-platform-key': 'guess' }));
      const { reply, upstreamRequests } = await counting(() => get('/platform/keyed', { 'x-platform-key': 'conformance-secret' }));
      conform('platform env in a route hook', adapter, { wrong, right: reply.status, upstreamRequests }, { wrong: { ...rendered(401, 'unauthorized'), upstreamRequests: 0 }, right: 200, upstreamRequests: 1 });
    });

    it('runs waitUntil work to its end after the response is complete', async () => {
      const id = `${adapter}-wait`;
      const background = f.upstreams.echo[0]!.background(id);
      const reply = await get('/platform/audit', { 'x-audit-id': id });
      // The client holds the whole response; the work's first call is held by the upstream until now.
      await within(background.arrived, 10_000, undefined);
      const held = background.steps();
      background.release();
      const steps = await poll(async () => background.steps(), (list) => list.length >= 2);
      conform('platform waitUntil', adapter, { status: reply.status, held, steps }, { status: 200, held: ['held'], steps: ['held', 'after'] });
    });

    it('reports waitUntil work that rejects, and goes on serving', async () => {
      const before = count(await reports(), 'platform.waitUntil');
      const reply = await get('/platform/audit', { 'x-audit-fail': '1' });
      const after = count(await poll(reports, (list) => count(list, 'platform.waitUntil') > before), 'platform.waitUntil');
      const serving = (await get('/own')).status;
      conform('platform waitUntil rejected', adapter, { status: reply.status, reported: after - before, serving }, { status: 200, reported: 1, serving: 200 });
    });

    it('answers 503 middleware_unavailable where a middleware failed its init, without calling the upstream, and reported the failure once', async () => {
      const first = await refusal(() => get('/platform/broken'));
      const again = await refusal(() => get('/platform/broken'));
      const reported = (await reports()).filter((entry) => entry.endsWith('.init'));
      const unavailable = { ...rendered(503, 'middleware_unavailable'), upstreamRequests: 0 };
      conform('failed init', adapter, { first, again, reported }, { first: unavailable, again: unavailable, reported: ['broken-keys.init'] });
    });
  });

  describe('service-binding backends and cf options', () => {
    it('reaches a binding:// backend through the Worker binding it names, at the public origin with the upstream path', async () => {
      const { reply, upstreamRequests } = await counting(() => get('/bound/who'));
      const answer = reply.status === 200 ? reply.json<{ worker: string; url: string; forwardedFor: string | null }>() : undefined;
      conform(
        'service-binding backend',
        adapter,
        { status: reply.status, worker: answer?.worker, path: answer === undefined ? undefined : new URL(answer.url).pathname, forwarded: answer?.forwardedFor === '127.0.0.1', upstreamRequests },
        { status: 200, worker: 'bound', path: '/whoami', forwarded: true, upstreamRequests: 0 },
      );
    });

    it('answers 502 upstream_unreachable for a binding:// backend whose binding the platform env lacks', async () => {
      conform('missing service binding', adapter, await refusal(() => get('/unbound/who')), { ...rendered(502, 'upstream_unreachable'), upstreamRequests: 0 });
    });

    it("hands a route's cf options to the fetch, where the bound Worker reads them as request.cf", async () => {
      const reply = await get('/bound/cached');
      const cf = reply.status === 200 ? reply.json<{ cf: unknown }>().cf : undefined;
      conform('cf options to a service binding', adapter, { status: reply.status, cf }, { status: 200, cf: { cacheTtl: 60, cacheKey: 'conformance' } });
    });

    it('forwards a route with cf options to a URL backend as any other route', async () => {
      const echo = seen(await get('/cached/ping'));
      conform('cf options to a URL backend', adapter, { url: echo.url, method: echo.method }, { url: '/ping', method: 'GET' });
    });
  });

  describe('validation and maps', () => {
    it('sends the mapped JSON body with its own Content-Length', async () => {
      const reply = await send(f.target.base, '/echo/orders', { method: 'POST', headers: json, body: '{"sku":"A-1","qty":2}' });
      const echo = seen(reply);
      const body = '{"lines":[{"sku":"A-1","quantity":2}]}';
      conform(
        'json map',
        adapter,
        { method: echo.method, url: echo.url, body: echo.body, contentType: echo.headers['content-type'], contentLength: echo.headers['content-length'] },
        { method: 'POST', url: '/orders', body, contentType: 'application/json', contentLength: String(body.length) },
      );
    });

    it('sends the bytes the client sent when the route validates without a map', async () => {
      const body = '{ "sku" : "A-1",\n  "qty": 2 }';
      const echo = seen(await send(f.target.base, '/echo/orders/raw', { method: 'POST', headers: json, body }));
      conform('json without map', adapter, { body: echo.body, contentLength: echo.headers['content-length'] }, { body, contentLength: String(body.length) });
    });

    it('replaces the query with the mapped query', async () => {
      const echo = seen(await get('/echo/lookup?q=shoes&page=3&extra=1'));
      conform('query map', adapter, { url: echo.url }, { url: '/lookup?term=shoes&page=3' });
    });

    it('answers 422 validation_failed with the issues of a JSON body, without calling the upstream', async () => {
      const { reply, upstreamRequests } = await counting(() => send(f.target.base, '/echo/orders', { method: 'POST', headers: json, body: '{"sku":"","qty":0}' }));
      const issues = isJson(reply) ? reply.json<Rendered>().error.issues?.map((issue) => ({ in: issue.in, path: issue.path })) : undefined;
      conform('422 json issues', adapter, { ...failure(reply), issues, upstreamRequests }, { ...rendered(422, 'validation_failed'), issues: [{ in: 'json', path: ['sku'] }, { in: 'json', path: ['qty'] }], upstreamRequests: 0 });
    });

    it('answers 422 validation_failed with the issues of a query', async () => {
      const reply = await get('/echo/lookup?page=0');
      const issues = isJson(reply) ? reply.json<Rendered>().error.issues?.map((issue) => ({ in: issue.in, path: issue.path })) : undefined;
      conform('422 query issues', adapter, { ...failure(reply), issues }, { ...rendered(422, 'validation_failed'), issues: [{ in: 'query', path: ['q'] }, { in: 'query', path: ['page'] }] });
    });

    it('answers 400 invalid_json to a body that is not JSON, without calling the upstream', async () => {
      conform('400 invalid_json', adapter, await refusal(() => send(f.target.base, '/echo/orders', { method: 'POST', headers: json, body: '{"sku":' })), { ...rendered(400, 'invalid_json'), upstreamRequests: 0 });
    });

    it('answers 415 unsupported_media_type to a body that is not declared JSON, without calling the upstream', async () => {
      const observed = await refusal(() => send(f.target.base, '/echo/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"sku":"A-1","qty":2}' }));
      conform('415', adapter, observed, { ...rendered(415, 'unsupported_media_type'), upstreamRequests: 0 });
    });
  });

  describe('error rendering', () => {
    it('answers 405 method_not_allowed with Allow on a gateway path', async () => {
      const reply = await send(f.target.base, '/echo/ping', { method: 'DELETE' });
      conform('405', adapter, { ...failure(reply), allow: reply.headers.allow }, { ...rendered(405, 'method_not_allowed'), allow: 'GET, HEAD, OPTIONS' });
    });

    it('answers an automatic OPTIONS with 204 and Allow', async () => {
      const reply = await send(f.target.base, '/echo/ping', { method: 'OPTIONS' });
      conform('automatic OPTIONS', adapter, { status: reply.status, allow: reply.headers.allow, body: reply.text }, { status: 204, allow: 'GET, HEAD, OPTIONS', body: '' });
    });

    it('answers HEAD on a gateway route with the status and headers of the upstream, no body', async () => {
      const reply = await send(f.target.base, '/echo/ping', { method: 'HEAD' });
      conform('HEAD passthrough', adapter, { status: reply.status, contentType: reply.headers['content-type'], upstream: reply.headers['x-upstream'], body: reply.text }, { status: 200, contentType: 'application/json', upstream: 'a', body: '' });
    });

    it('answers HEAD with the status of a gateway error (hook refusal, upstream fault), no body', async () => {
      const refused = await send(f.target.base, '/echo/private', { method: 'HEAD' });
      const unreachable = await send(f.target.base, '/refused/any', { method: 'HEAD' });
      conform(
        'HEAD errors',
        adapter,
        { hook: refused.status, hookType: refused.headers['content-type'], fault: unreachable.status, faultType: unreachable.headers['content-type'], body: refused.text + unreachable.text },
        { hook: 401, hookType: 'application/json; charset=utf-8', fault: 502, faultType: 'application/json; charset=utf-8', body: '' },
      );
    });

    it('answers 413 payload_too_large to a declared Content-Length over the body limit, without reading it', async () => {
      const size = 3 * 1024 * 1024;
      const observed = await refusal(() => sendPartial(f.target.base, '/echo/upload/limited', { 'content-type': 'application/json', 'content-length': String(size) }, Buffer.alloc(64 * 1024, 32)));
      conform('413 declared', adapter, observed, { ...rendered(413, 'payload_too_large'), upstreamRequests: 0 });
    });

    it('renders the error body with code, message and status', async () => {
      const reply = await get('/echo/private');
      conform('rendered body', adapter, { body: reply.json() }, { body: { error: { code: 'unauthorized', message: 'Authentication is required.', status: 401 } } });
    });
  });

  describe('header hygiene', () => {
    it('drops hop-by-hop and Connection-listed request headers', async () => {
      const echo = seen(
        await get('/echo/ping', {
          connection: 'close, x-secret',
          'x-secret': 'hidden',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic eDp5',
          te: 'trailers',
          'x-kept': 'kept',
        }),
      );
      const h = echo.headers;
      conform(
        'request hop-by-hop',
        adapter,
        { secret: h['x-secret'], keepAlive: h['keep-alive'], proxyAuthorization: h['proxy-authorization'], te: h.te, kept: h['x-kept'] },
        { secret: undefined, keepAlive: undefined, proxyAuthorization: undefined, te: undefined, kept: 'kept' },
      );
    });

    it('drops hop-by-hop and Connection-listed response headers', async () => {
      const reply = await get('/echo/hop');
      const h = reply.headers;
      conform('response hop-by-hop', adapter, { status: reply.status, secret: h['x-upstream-secret'], keepAlive: h['keep-alive'], shown: h['x-upstream-public'] }, { status: 200, secret: undefined, keepAlive: undefined, shown: 'shown' });
    });

    it('passes repeated response headers (Set-Cookie) on one by one', async () => {
      const reply = await get('/echo/cookies');
      conform('repeated response headers', adapter, { setCookie: reply.headers['set-cookie'], multi: reply.headers['x-multi'], body: reply.text }, { setCookie: ['a=1; Path=/', 'b=2; Path=/; HttpOnly'], multi: 'one, two', body: 'cookies' });
    });

    it('passes an encoded response on so that the client decodes the same body', async () => {
      const reply = await get('/echo/gzip', { 'accept-encoding': 'gzip' });
      const encoding = reply.headers['content-encoding'];
      const decoded = encoding === 'gzip' ? gunzipSync(reply.body).toString() : reply.text;
      conform('encoded response', adapter, { status: reply.status, decoded }, { status: 200, decoded: '{"compressed":true}' });
    });

    it('passes redirects and 204s on without following them', async () => {
      const redirect = await get('/echo/redirect');
      const empty = await get('/echo/no-content');
      conform('redirect and 204', adapter, { redirect: redirect.status, reason: redirect.statusText, location: redirect.headers.location, empty: empty.status, upstream: empty.headers['x-upstream'], body: empty.text }, { redirect: 302, reason: 'Found Elsewhere', location: '/elsewhere', empty: 204, upstream: 'a', body: '' });
    });

    it('replaces spoofed X-Forwarded-For, -Host, -Proto and Forwarded with what it saw', async () => {
      const echo = seen(await get('/echo/ping', { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6;host=evil.example' }));
      const h = echo.headers;
      const host = new URL(f.target.base).host;
      conform(
        'spoofed forwarding headers',
        adapter,
        { xForwardedFor: h['x-forwarded-for'], xForwardedHost: h['x-forwarded-host'], xForwardedProto: h['x-forwarded-proto'], forwarded: h.forwarded },
        { xForwardedFor: '127.0.0.1', xForwardedHost: host, xForwardedProto: 'http', forwarded: `for=127.0.0.1;proto=http;host="${host}"` },
      );
    });

    it('ignores a client-sent CF-Connecting-IP', async () => {
      const echo = seen(await get('/echo/ping', { 'cf-connecting-ip': '6.6.6.6' }));
      const forwarded = String(echo.headers.forwarded);
      conform('ignores a client-sent CF-Connecting-IP', adapter, { xForwardedFor: echo.headers['x-forwarded-for'], forwardedFor: forwarded.slice(0, forwarded.indexOf(';')) }, { xForwardedFor: '127.0.0.1', forwardedFor: 'for=127.0.0.1' });
    });

    it('sends the backend host upstream', async () => {
      const echo = seen(await get('/echo/ping'));
      conform('upstream Host', adapter, { host: echo.headers.host }, { host: new URL(f.upstreams.origins.echo[0]!).host });
    });
  });

  describe('streaming', () => {
    it('delivers a large response whole', async () => {
      const reply = await get('/echo/big');
      conform('large response', adapter, { status: reply.status, length: reply.body.byteLength, same: reply.body.equals(bigBody) }, { status: 200, length: bigBody.byteLength, same: true });
    });

    it('passes the upstream Content-Length on', async () => {
      const reply = await get('/echo/big');
      conform(
        'passes the upstream Content-Length on',
        adapter,
        { contentLength: reply.headers['content-length'], chunked: reply.headers['transfer-encoding'] === 'chunked' },
        { contentLength: String(bigBody.byteLength), chunked: false },
      );
    });

    it('delivers the first chunk before the upstream has finished', async () => {
      const gate = f.upstreams.echo[0]!.nextStream();
      const { res } = await open(f.target.base, '/echo/stream');
      const first = (await nextChunk(res)).toString();
      // Only now may the upstream finish: the first chunk cannot have waited for the end.
      gate.release();
      const tail = (await rest(res)).toString();
      conform('first chunk early', adapter, { status: res.statusCode, first, whole: first + tail }, { status: 200, first: 'first\n', whole: 'first\nlast\n' });
    });

    it('never cuts a response that keeps streaming for longer than requestTimeout in total', async () => {
      const result = await ending(f.target.base, '/echo/trickle');
      conform('requestTimeout is inactivity, not a deadline', adapter, { ...result }, { status: 200, bytes: trickleChunks * 'tick\n'.length, end: 'clean' });
    });

    it('forwards a large upload byte for byte, with its length declared and chunked', async () => {
      const upload = async (headers: Record<string, string | number>): Promise<Record<string, unknown>> => {
        const reply = await send(f.target.base, '/echo/digest', { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: variedBody });
        return { status: reply.status, ...(reply.status === 200 ? reply.json<object>() : {}) };
      };
      const expected = { status: 200, bytes: variedBody.byteLength, sha256: sha256(variedBody) };
      conform('large upload, declared length', adapter, await upload({ 'content-length': variedBody.byteLength }), expected);
      conform('large upload, chunked', adapter, await upload({ 'transfer-encoding': 'chunked' }), expected);
    });

    it('streams a request body to a passthrough route', async () => {
      const body = 'x'.repeat(256 * 1024);
      const echo = seen(await send(f.target.base, '/echo/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body }));
      conform('request body', adapter, { url: echo.url, length: echo.body.length, contentLength: echo.headers['content-length'] }, { url: '/upload', length: body.length, contentLength: String(body.length) });
    });
  });

  /** A raw GET for `path` on a fresh socket; `onData` sees everything received so far. */
  const raw = async (path: string, onData?: (received: string) => void) => {
    const text = await rawRequest(port(), `GET ${path} HTTP/1.1\r\nHost: ${new URL(f.target.base).host}\r\n\r\n`, onData);
    const { status, headers, body } = parseHead(text);
    // A raw socket sees every byte the gateway writes: a second response could not hide.
    return { status, contentLength: headers['content-length'], body, responses: text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0 };
  };

  describe('failures after the response started', () => {
    it('aborts the client connection, without a second response, when the upstream dies mid-body', async () => {
      const gate = f.upstreams.echo[0]!.nextCut();
      // The upstream dies only once the client holds the first part of the body. It declares more
      // than the fetch transport reads whole before answering (16 KiB), so that every adapter
      // relays the first part as it comes.
      const observed = await fault('/echo/cut', () => raw('/echo/cut?bytes=65536', (received) => received.includes('partial\n') && gate.cut()));
      conform('aborts the client when the upstream dies mid-body', adapter, observed, { status: 200, contentLength: '65536', body: 'partial\n', responses: 1, ...cleanly(['upstream_reset']) });
    });

    it('aborts the client connection, and the upstream request, when the upstream goes silent mid-body past requestTimeout', async () => {
      const observed = await fault('/echo/stall', () => raw('/echo/stall'));
      conform('aborts the client when the upstream goes silent mid-body', adapter, observed, { status: 200, contentLength: '1000', body: 'partial\n', responses: 1, ...cleanly(['upstream_timeout']) });
    });
  });

  describe('upstream faults', () => {
    it('answers 502 upstream_unreachable when the upstream refuses the connection', async () => {
      const observed = await fault('/refused/any', async () => failure(await get('/refused/any')));
      conform('refused', adapter, observed, { ...rendered(502, 'upstream_unreachable'), ...cleanly(['upstream_unreachable']) });
    });

    it('answers 504 upstream_timeout when the upstream stays silent past requestTimeout, and closes its connection to it', async () => {
      const requests = f.upstreams.slowRequests();
      const observed = await fault('/slow/wait', async () => {
        const reply = await get('/slow/wait');
        const upstreamConnections = await poll(async () => f.upstreams.slowConnections(), (open) => open === 0);
        return { ...failure(reply), upstreamRequests: f.upstreams.slowRequests() - requests, upstreamConnections };
      });
      conform('timeout', adapter, observed, { ...rendered(504, 'upstream_timeout'), upstreamRequests: 1, upstreamConnections: 0, ...cleanly(['upstream_timeout']) });
    });

    it('answers 502 upstream_reset when the upstream resets before responding', async () => {
      const observed = await fault('/reset/any', async () => failure(await get('/reset/any')));
      conform('answers 502 upstream_reset when the upstream resets before responding', adapter, observed, { ...rendered(502, 'upstream_reset'), ...cleanly(['upstream_reset']) });
    });

    it('answers 502 upstream_reset when the upstream closes the connection before responding', async () => {
      const requests = f.upstreams.hangupRequests();
      const observed = await fault('/hangup/any', async () => ({ ...failure(await get('/hangup/any')), upstreamRequests: f.upstreams.hangupRequests() - requests }));
      conform('upstream closes before responding', adapter, observed, { ...rendered(502, 'upstream_reset'), upstreamRequests: 1, ...cleanly(['upstream_reset']) });
    });
  });

  describe('what http-proxy-middleware users reach for', () => {
    /** A GET read to its end; a connection closed before any response head is status 0. */
    const ended = (path: string): Promise<{ status: number; end: string }> =>
      ending(f.target.base, path).then(
        ({ status, end }) => ({ status, end }),
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ECONNRESET') throw error;
          return { status: 0, end: 'aborted' };
        },
      );

    it('intercepts a JSON body: the interceptor gets all of it, and the upstream was asked for an identity encoding', async () => {
      const reply = await get('/hpm/json');
      conform(
        'interceptBody JSON',
        adapter,
        { status: reply.status, body: isJson(reply) ? reply.json() : reply.text, contentLength: reply.headers['content-length'] },
        { status: 200, body: { intercepted: true, url: '/ping', acceptEncoding: 'identity' }, contentLength: undefined },
      );
    });

    it('aborts a response over the interceptor limit: no body it did not see, settled internal once, nothing left open', async () => {
      const observed = await fault('/hpm/small', () => ended('/hpm/small'));
      conform('interceptBody over the limit', adapter, observed, { status: 0, end: 'aborted', ...cleanly(['internal']) });
    });

    it("rewrites Location, Content-Location and Refresh from the upstream's origin and base path to the public path", async () => {
      const reply = await get('/rewrite/moved');
      conform(
        'Location rewriting',
        adapter,
        { status: reply.status, location: reply.headers.location, contentLocation: reply.headers['content-location'], refresh: reply.headers.refresh },
        { status: 302, location: '/rewrite/landing?x=1', contentLocation: '/rewrite/doc', refresh: '0; url=/rewrite/later' },
      );
    });

    it('rewrites Set-Cookie Domain and Path by their mapping', async () => {
      const reply = await get('/rewrite/moved');
      conform('Set-Cookie rewriting', adapter, { cookies: reply.headers['set-cookie'] }, { cookies: ['sid=1; Path=/rewrite/; HttpOnly', 'pref=2; Path=/base/prefs'] });
    });

    it('passes a malformed Location, Refresh and Set-Cookie from the upstream on as they are', async () => {
      const reply = await get('/rewrite/malformed');
      conform(
        'malformed Location and Set-Cookie',
        adapter,
        { status: reply.status, location: reply.headers.location, refresh: reply.headers.refresh, cookies: reply.headers['set-cookie'] },
        { status: 302, location: 'http://[bad', refresh: 'soon; url=', cookies: ['garbage; Domain=internal.example', 'ok=1; Path=/rewrite/'] },
      );
    });

    it('sends each tenant to the backend its header maps, every time', async () => {
      const names: string[] = [];
      for (const tenant of ['one', 'two', 'one', 'two']) names.push(seen(await get('/tenant/who', { 'x-tenant': tenant })).name);
      conform('dynamic target by header', adapter, { names }, { names: ['a', 'b', 'a', 'b'] });
    });

    it('answers 503 for a dynamic target that names no configured backend, or none with fallback none, and connects nowhere', async () => {
      const ghost = await refusal(() => get('/tenant/who', { 'x-tenant': 'ghost' }));
      const none = await refusal(() => get('/tenant/who'));
      const url = await refusal(() => get('/target/who', { 'x-target': 'http://169.254.169.254' }));
      const expected = { ...rendered(503, 'no_backend_available'), upstreamRequests: 0 };
      conform('dynamic target not configured', adapter, { ghost, none, url }, { ghost: expected, none: expected, url: expected });
    });

    it('takes a backend the client names only when it is one of the service’s own', async () => {
      const name = seen(await get('/target/who', { 'x-target': f.upstreams.origins.echo[1]! })).name;
      conform('dynamic target configured', adapter, { name }, { name: 'b' });
    });

    it('refuses a path with empty segments that names a route with 400 invalid_path, without calling the upstream', async () => {
      const refusals: Record<string, unknown> = {};
      for (const path of ['/echo//ping', '/echo/ping//', '//echo/ping', '/files/a//b']) refusals[path] = await refusal(() => get(path));
      const expected = { ...rendered(400, 'invalid_path'), upstreamRequests: 0 };
      conform('empty segments', adapter, refusals, { '/echo//ping': expected, '/echo/ping//': expected, '//echo/ping': expected, '/files/a//b': expected });
    });

    it('leaves a path with empty segments that names no route, even merged, to the app', async () => {
      conform('empty segments elsewhere', adapter, failure(await get('/nope//x')), notGateway);
    });

    it('sends X-Forwarded-Port: the port of the Host the client used', async () => {
      const echo = seen(await get('/echo/ping'));
      conform('X-Forwarded-Port', adapter, { port: echo.headers['x-forwarded-port'] === new URL(f.target.base).port }, { port: true });
    });
  });

  describe('timeouts measure the side they name', () => {

    it('delivers a whole response to a client that stops reading for longer than requestTimeout', async () => {
      const flooding = f.upstreams.echo[0]!.nextFlood();
      const download = pausedDownload(port(), '/echo/flood');
      const status = await download.status;
      // Every buffer up to the client is full: the gateway waits on the client, not on the upstream.
      await untilStuck(await flooding, requestTimeout);
      await sleep(3 * requestTimeout);
      const ended = await download.resume();
      conform('slow reader', adapter, { status, ...ended, upstreamFinished: await (await flooding).finished }, { status: 200, bytes: floodBytes, complete: true, upstreamFinished: true });
    });

    it('forwards a whole upload whose client pauses mid-body for longer than requestTimeout', async () => {
      const sink = f.upstreams.echo[0]!.nextSink();
      const upload = pausedUpload(port(), '/echo/sink', 64 * 1024, 256 * 1024);
      await eventually('the upstream has the first part', () => sink.received() === 64 * 1024);
      await sleep(3 * requestTimeout);
      upload.finish();
      const reply = await upload.reply;
      const status = 'status' in reply ? reply.status : reply.error;
      conform('paused upload', adapter, { status, body: 'text' in reply ? reply.text : undefined }, { status: 200, body: JSON.stringify({ bytes: 64 * 1024 + 256 * 1024 }) });
    });

    it('drops a client that stops reading for good at clientTimeout, and frees the upstream', async () => {
      const flooding = f.upstreams.echo[0]!.nextFlood();
      const download = pausedDownload(port(), '/echo/flood-stall');
      const status = await download.status;
      // Only the gateway giving up on the client ends the upstream's response early.
      const upstreamFinished = await (await flooding).finished;
      const ended = await download.resume();
      conform('stalled reader', adapter, { status, complete: ended.complete, upstreamFinished }, { status: 200, complete: false, upstreamFinished: false });
    });

    it('answers 408 request_timeout to a client that stops mid-upload for good, and aborts the upstream request', async () => {
      const sink = f.upstreams.echo[0]!.nextSink();
      const upload = pausedUpload(port(), '/echo/sink-stall', 64 * 1024, 256 * 1024);
      await eventually('the upstream has the first part', () => sink.received() === 64 * 1024);
      const reply = await upload.reply;
      const observed = 'status' in reply ? { ...failure(reply as unknown as Reply), connection: reply.headers.connection } : { error: reply.error };
      conform('stalled upload', adapter, { ...observed, upstreamAborted: await sink.closed }, { ...rendered(408, 'request_timeout'), connection: 'close', upstreamAborted: true });
    });
  });

  describe('client aborts', () => {
    it('closes the upstream request when the client leaves before any response', async () => {
      const exchange = f.upstreams.echo[0]!.nextSilent();
      const observed = await fault('/echo/silent', async () => {
        const client = begin(f.target.base, '/echo/silent');
        await exchange.started;
        client.abort();
        return { closedEarly: await within(exchange.closed, 10_000, 'still open') };
      });
      conform('client abort before the response', adapter, observed, { closedEarly: true, ...cleanly(['client_closed']) });
    });

    it('closes the upstream request when the client leaves mid-response', async () => {
      const hold = f.upstreams.echo[0]!.nextHold();
      const observed = await fault('/echo/hold', async () => {
        const { res, abort } = await open(f.target.base, '/echo/hold');
        await hold.started;
        await nextChunk(res);
        abort();
        return { closedEarly: await within(hold.closed, 10_000, 'still open') };
      });
      conform('client abort', adapter, observed, { closedEarly: true, ...cleanly(['client_closed']) });
    });

    it('closes the upstream request when the client leaves mid-response of a declared length', async () => {
      const hold = f.upstreams.echo[0]!.nextHold();
      // Past the fetch transport's whole-body read: relayed, through a FixedLengthStream on workerd.
      const observed = await fault('/echo/hold', async () => {
        const { res, abort } = await open(f.target.base, '/echo/hold?length=1048576');
        await hold.started;
        await nextChunk(res);
        abort();
        return { length: res.headers['content-length'], closedEarly: await within(hold.closed, 10_000, 'still open') };
      });
      conform('client abort mid-response of a declared length', adapter, observed, { length: '1048576', closedEarly: true, ...cleanly(['client_closed']) });
    });

    it('closes the upstream request when the client leaves mid-upload, before any response', async () => {
      const exchange = f.upstreams.echo[0]!.nextDrip();
      const observed = await fault('/echo/drip', async () => {
        const upload = drip(f.target.base, '/echo/drip');
        await exchange.started;
        upload.abort();
        return { closedEarly: await within(exchange.closed, 10_000, 'still open'), response: await upload.response };
      });
      conform('client abort mid-upload', adapter, observed, { closedEarly: true, response: undefined, ...cleanly(['client_closed']) });
    });
  });

  describe('rate limits (memory store)', () => {
    const as = (client: string, path: string) => get(path, { [clientHeader]: client });
    /** The RateLimit header with its `t` (seconds to the reset, which moves with the clock) checked and dropped. */
    const state = (reply: Reply): string | undefined => {
      const value = reply.headers.ratelimit as string | undefined;
      return value?.replace(/;t=(\d+)$/, (_, t: string) => (Number(t) >= 1 && Number(t) <= 3600 ? ';t=ok' : `;t=${t}`));
    };

    it(`lets ${hourlyLimit} requests an hour through with the RateLimit headers, and refuses the next with 429 rate_limited and Retry-After`, async () => {
      const before = f.upstreams.echo[0]!.requests();
      const replies: Reply[] = [];
      for (let i = 0; i <= hourlyLimit; i++) replies.push(await as('quota-a', '/limited/ping'));
      const refused = replies.at(-1)!;
      const retryAfter = Number(refused.headers['retry-after']);
      conform(
        'rate limit refuses past the limit',
        adapter,
        {
          allowed: replies.slice(0, -1).map((reply) => [reply.status, reply.headers['ratelimit-policy'], state(reply)]),
          refused: { ...failure(refused), policy: refused.headers['ratelimit-policy'], state: state(refused), retryAfter: Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600 },
          upstreamRequests: f.upstreams.echo[0]!.requests() - before,
          otherClient: (await as('quota-b', '/limited/ping')).status,
        },
        {
          allowed: [
            [200, '"hourly";q=3;w=3600', '"hourly";r=2;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=1;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=0;t=ok'],
          ],
          refused: { ...rendered(429, 'rate_limited'), policy: '"hourly";q=3;w=3600', state: '"hourly";r=0;t=ok', retryAfter: true },
          upstreamRequests: hourlyLimit,
          otherClient: 200,
        },
      );
    });

    it('frees the concurrency limit on every ending: a response, a refusal inside it, a hook answer, an unreachable and a silent upstream', async () => {
      const client = 'slots-endings';
      const endings: (number | string)[] = [];
      const probes: number[] = [];
      for (const [path, headers] of [
        ['/limited/slots/ping', {}],
        ['/limited/slots/ping', { 'x-deny': '1' }],
        ['/limited/slots/hook', {}],
        ['/limited-down/any', {}],
        ['/limited-slow/wait', {}],
      ] as const) {
        const reply = await get(path, { [clientHeader]: client, ...headers });
        endings.push(reply.status === 200 || reply.status === 202 ? reply.status : String(failure(reply).code));
        // One place only: this passes only if the request before it freed its place.
        probes.push((await as(client, '/limited/slots/ping')).status);
      }
      conform('concurrency freed on every ending', adapter, { endings, probes }, { endings: [200, 'unauthorized', 202, 'upstream_unreachable', 'upstream_timeout'], probes: [200, 200, 200, 200, 200] });
    });

    it('refuses a request over the concurrency limit with 429 rate_limited, and frees the place of a client that left', async () => {
      const client = 'slots-abort';
      const hold = f.upstreams.echo[0]!.nextHold();
      const { res, abort } = await open(f.target.base, '/limited/slots/hold', { [clientHeader]: client });
      await hold.started;
      await nextChunk(res);
      const refused = await as(client, '/limited/slots/ping');
      const otherClient = (await as('slots-other', '/limited/slots/ping')).status;
      abort();
      await hold.closed;
      // The request settles as client_closed once the gateway hears the client left; its place frees then.
      const freed = await poll(
        async () => (await as(client, '/limited/slots/ping')).status,
        (status) => status === 200,
      );
      conform(
        'concurrency refusal and a client that left',
        adapter,
        { refused: { ...failure(refused), retryAfter: refused.headers['retry-after'], policy: refused.headers['ratelimit-policy'], state: refused.headers.ratelimit }, otherClient, freed },
        { refused: { ...rendered(429, 'rate_limited'), retryAfter: '1', policy: '"slots";q=1;qu="concurrent-requests"', state: '"slots";r=0' }, otherClient: 200, freed: 200 },
      );
    });
  });

  // The same limit on two stores: `/limited/ping` counts in the gateway's memory store,
  // `/limited-do/ping` in one Durable Object per client (none on Node: divergences.ts).
  describe('rate limits under concurrent requests', () => {
    const concurrent = 10;
    /** Sends `concurrent` requests at once for one client; the statuses counted, and what reached the upstream. */
    const burst = async (path: string, client: string): Promise<Record<string, unknown>> => {
      const before = f.upstreams.echo[0]!.requests();
      const replies = await Promise.all(Array.from({ length: concurrent }, () => get(path, { [clientHeader]: client })));
      const statuses: Record<number, number> = {};
      for (const reply of replies) statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      const codes = [...new Set(replies.filter((reply) => reply.status !== 200).map((reply) => String(failure(reply).code)))];
      return { statuses, codes, upstreamRequests: f.upstreams.echo[0]!.requests() - before };
    };
    const exact = { statuses: { 200: hourlyLimit, 429: concurrent - hourlyLimit }, codes: ['rate_limited'], upstreamRequests: hourlyLimit };

    it(`lets exactly ${hourlyLimit} of ${concurrent} concurrent requests through the memory store`, async () => {
      conform('memory store limit under concurrent requests', adapter, await burst('/limited/ping', 'burst-memory'), exact);
    });

    it(`lets exactly ${hourlyLimit} of ${concurrent} concurrent requests through the Durable Object store`, async () => {
      conform('durable object limit under concurrent requests', adapter, await burst('/limited-do/ping', 'burst-do'), exact);
    });
  });

  describe('rate limits (Durable Object store)', () => {
    const as = (client: string) => get('/limited-do/ping', { [clientHeader]: client });
    /** The RateLimit header with its `t` (seconds to the reset, which moves with the clock) checked and dropped. */
    const state = (reply: Reply): string | undefined => {
      const value = reply.headers.ratelimit as string | undefined;
      return value?.replace(/;t=(\d+)$/, (_, t: string) => (Number(t) >= 1 && Number(t) <= 3600 ? ';t=ok' : `;t=${t}`));
    };
    const allowed = (reply: Reply) => [reply.status, reply.headers['ratelimit-policy'], state(reply)];

    it(`lets ${hourlyLimit} requests an hour through with the RateLimit headers, refuses the next with 429 rate_limited and Retry-After, and counts another key apart`, async () => {
      const before = f.upstreams.echo[0]!.requests();
      const replies: Reply[] = [];
      for (let i = 0; i <= hourlyLimit; i++) replies.push(await as('do-a'));
      const refused = replies.at(-1)!;
      const retryAfter = Number(refused.headers['retry-after']);
      const upstreamRequests = f.upstreams.echo[0]!.requests() - before;
      // Another client's object holds its own count: its whole hour is still there.
      const other: Reply[] = [];
      for (let i = 0; i < hourlyLimit; i++) other.push(await as('do-b'));
      conform(
        'durable object limit refuses past the limit',
        adapter,
        {
          allowed: replies.slice(0, -1).map(allowed),
          refused: { ...failure(refused), policy: refused.headers['ratelimit-policy'], state: state(refused), retryAfter: Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600 },
          upstreamRequests,
          otherClient: other.map(allowed),
        },
        {
          allowed: [
            [200, '"hourly";q=3;w=3600', '"hourly";r=2;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=1;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=0;t=ok'],
          ],
          refused: { ...rendered(429, 'rate_limited'), policy: '"hourly";q=3;w=3600', state: '"hourly";r=0;t=ok', retryAfter: true },
          upstreamRequests: hourlyLimit,
          otherClient: [
            [200, '"hourly";q=3;w=3600', '"hourly";r=2;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=1;t=ok'],
            [200, '"hourly";q=3;w=3600', '"hourly";r=0;t=ok'],
          ],
        },
      );
    });
  });

  describe('sticky policies', () => {
    const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);

    it('sends the same header value to the same upstream every time', async () => {
      const picks: Record<string, string> = {};
      for (const user of users) {
        const names = new Set<string>();
        for (let i = 0; i < 4; i++) names.add(seen(await get('/sticky/who', { 'x-user': user })).name);
        expect(names.size).toBe(1);
        picks[user] = [...names][0]!;
      }
      // The header spreads users over the backends; the assignment itself is compared across adapters.
      expect(new Set(Object.values(picks)).size).toBeGreaterThan(1);
      conform('sticky assignment', adapter, picks, observations.get('sticky assignment')?.get('express') ?? picks);
    });
  });

  describe('fall-through', () => {
    it("leaves the app's own route to the app", async () => {
      const reply = await get('/own');
      conform('own route', adapter, { status: reply.status, body: reply.text }, { status: 200, body: 'own route' });
    });

    it("leaves an unknown path to the app's 404", async () => {
      conform('unknown path', adapter, failure(await get('/nope')), notGateway);
    });

    it('leaves a path under a prefix that no route declares to the app', async () => {
      conform('unknown path under a prefix', adapter, failure(await get('/echo/undeclared')), notGateway);
    });
  });
});

describe('across adapters', () => {
  it('every adapter observed the same thing on every case, except the known divergences', () => {
    const differing: string[] = [];
    for (const [caseName, byAdapter] of observations) {
      // Express, unless Express is the one that diverges on the case (service bindings are Workers' own).
      const reference: AdapterName = adapterNames.find((name) => converges(caseName, name)) ?? 'express';
      const base = byAdapter.get(reference);
      for (const [adapter, observed] of byAdapter) {
        if (adapter === reference || !converges(caseName, adapter)) continue;
        // The proxy's own address and port differ per app; everything else must agree.
        if (caseName === 'spoofed forwarding headers') continue;
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
