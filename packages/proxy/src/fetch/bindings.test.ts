import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, post, service, type GatewayOptions } from '@apigate/core';
import { startUpstream, tcpHandles, eventually, type Echo, type Upstream } from '@apigate/test-utils/http';
import { fetchHandler } from './handler.ts';
import { FetchTransport } from './transport.ts';

// Service-binding backends and `cf` options on Node's fetch. A Worker's service binding is an
// object whose `fetch` reaches another Worker; here it reaches a real upstream on loopback over
// real HTTP, as the binding's Worker would proxy it. workerd's own bindings run in
// apps/examples/hono-worker's tests (Miniflare, two Workers).

let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream.close();
});

/** A binding that forwards to the upstream and records what it was handed. */
const bindingTo = (origin: string, calls: { url: string; cf: unknown }[]) => ({
  fetch: (input: Request | string, init?: RequestInit & { cf?: unknown }): Promise<Response> => {
    const url = typeof input === 'string' ? input : input.url;
    calls.push({ url, cf: init?.cf });
    const target = new URL(url);
    return fetch(`${origin}${target.pathname}${target.search}`, init);
  },
});

type Failure = { error: { code: string; message: string } };

const gatewayOf = (backends: string[], outcomes: string[] = [], options: GatewayOptions<Record<string, never>> = {}) =>
  createGateway({ ...options, renderer: 'json', observer: { upstreamFailed: (event) => void outcomes.push(`${event.error.code}: ${String((event.error.details as { reason?: unknown } | undefined)?.reason)}`) } })
    .mount(
      service({ name: 'auth', prefix: '/auth' }, [
        get('/users/{id}', { to: '/v1/users/{id}' }),
        post('/login'),
        get('/cached/{id}', { to: '/items/{id}', upstream: { cf: { cacheTtl: 60, cacheKey: 'item' } } }),
      ]),
      backends,
    )
    .build();

describe('a binding:// backend on the fetch transport', () => {
  it("sends the attempt through the env's binding, at the client's origin with the upstream path, headers cleaned and forwarded", async () => {
    const calls: { url: string; cf: unknown }[] = [];
    const handle = fetchHandler(gatewayOf(['binding://AUTH_SERVICE/base']));
    const env = { AUTH_SERVICE: bindingTo(upstream.origin, calls) };
    const response = await handle(new Request('https://gw.example/auth/users/42?x=1', { headers: { connection: 'x-drop', 'x-drop': '1', 'x-keep': 'yes' } }), { clientIp: '203.0.113.9', platform: { env } });
    expect(response?.status).toBe(200);
    const seen = (await response!.json()) as Echo;
    expect(calls).toEqual([{ url: 'https://gw.example/base/v1/users/42?x=1', cf: undefined }]);
    expect([seen.url, seen.headers['x-keep'], seen.headers['x-drop'], seen.headers['x-forwarded-for'], seen.headers['x-forwarded-host'], seen.headers['x-forwarded-proto']]).toEqual([
      '/base/v1/users/42?x=1',
      'yes',
      undefined,
      '203.0.113.9',
      'gw.example',
      'https',
    ]);
  });

  it('streams a request body through the binding', async () => {
    const handle = fetchHandler(gatewayOf(['binding://AUTH_SERVICE']));
    const response = await handle(new Request('https://gw.example/auth/login', { method: 'POST', body: '{"user":"ada"}', headers: { 'content-type': 'application/json' } }), {
      platform: { env: { AUTH_SERVICE: bindingTo(upstream.origin, []) } },
    });
    const seen = (await response!.json()) as Echo;
    expect([seen.method, seen.body, seen.headers['content-type']]).toEqual(['POST', '{"user":"ada"}', 'application/json']);
  });

  it.each([
    ['an env without the binding', { OTHER: 'x' }, 'env.AUTH_SERVICE is not bound'],
    ['a var of that name, not a service binding', { AUTH_SERVICE: 'https://auth.example' }, 'env.AUTH_SERVICE is not a service binding (it has no fetch method)'],
    ['no platform env at all', undefined, 'the adapter passed no platform env'],
  ])('answers 502 upstream_unreachable for %s, and reports why', async (_name, env, reason) => {
    const outcomes: string[] = [];
    const handle = fetchHandler(gatewayOf(['binding://AUTH_SERVICE'], outcomes));
    const before = upstream.seen.length;
    const response = await handle(new Request('https://gw.example/auth/users/1'), env === undefined ? {} : { platform: { env } });
    expect(response?.status).toBe(502);
    expect(((await response!.json()) as Failure).error.code).toBe('upstream_unreachable');
    expect(outcomes).toEqual([`upstream_unreachable: no service binding for binding://AUTH_SERVICE: ${reason}`]);
    expect(upstream.seen.length).toBe(before);
  });

  it('goes to the next backend when a retry asks for it after a missing binding', async () => {
    const outcomes: string[] = [];
    const gateway = gatewayOf(['binding://AUTH_SERVICE', upstream.origin], outcomes, {
      use: [{ name: 'retry-other', retry: (ctx) => (ctx.attempt < 2 ? ctx.other() : undefined) }],
    });
    const response = await fetchHandler(gateway)(new Request('https://gw.example/auth/users/7'), { platform: { env: {} } });
    expect(response?.status).toBe(200);
    expect(((await response!.json()) as Echo).url).toBe('/v1/users/7');
    expect(outcomes).toEqual(['upstream_unreachable: no service binding for binding://AUTH_SERVICE: env.AUTH_SERVICE is not bound']);
  });
});

describe("a route's cf fetch options", () => {
  it("hand the route's cf to the fetch of each attempt, and no cf for the other routes", async () => {
    const calls: { url: string; cf: unknown }[] = [];
    const recording: typeof fetch = (input, init) => {
      calls.push({ url: String(input), cf: (init as { cf?: unknown } | undefined)?.cf });
      return fetch(input, init);
    };
    const gateway = gatewayOf([upstream.origin]);
    const handle = fetchHandler(gateway, new FetchTransport(gateway.upstream, recording));
    const cached = await handle(new Request('https://gw.example/auth/cached/9'));
    const plain = await handle(new Request('https://gw.example/auth/users/9'));
    // Node's fetch ignores the field: the request goes out as usual.
    expect([cached?.status, ((await cached!.json()) as Echo).url, plain?.status]).toEqual([200, '/items/9', 200]);
    await plain!.arrayBuffer();
    expect(calls).toEqual([
      { url: `${upstream.origin}/items/9`, cf: { cacheTtl: 60, cacheKey: 'item' } },
      { url: `${upstream.origin}/v1/users/9`, cf: undefined },
    ]);
  });

  it('reach a service binding with the request', async () => {
    const calls: { url: string; cf: unknown }[] = [];
    const response = await fetchHandler(gatewayOf(['binding://AUTH_SERVICE']))(new Request('https://gw.example/auth/cached/3'), { platform: { env: { AUTH_SERVICE: bindingTo(upstream.origin, calls) } } });
    await response!.arrayBuffer();
    expect(calls).toEqual([{ url: 'https://gw.example/items/3', cf: { cacheTtl: 60, cacheKey: 'item' } }]);
  });

  it('leave no connection behind after binding failures', async () => {
    const before = tcpHandles();
    const handle = fetchHandler(gatewayOf(['binding://AUTH_SERVICE']));
    for (let i = 0; i < 5; i++) await (await handle(new Request('https://gw.example/auth/users/1'), { platform: { env: {} } }))!.arrayBuffer();
    await eventually('no new TCP handles', () => tcpHandles() <= before);
  });
});
