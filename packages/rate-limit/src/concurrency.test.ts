import { createServer, request, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import { expressGateway, expressMiddleware } from '@apigate/express';
import { closeServer, eventually, listen, refusedOrigin, send, startUpstream, type Upstream } from '@apigate/test-utils/http';
import express from 'express';
import { concurrencyLimit } from './concurrency.ts';
import { byHeader } from './keys.ts';
import { call, problemOf } from './test-utils/standalone.ts';

/** Upstream: `/hold` waits until the test releases it, `/fast` answers at once. */
let upstream: Upstream;
const held: ServerResponse[] = [];

const release = (): void => {
  const res = held.shift();
  res?.writeHead(200, { 'content-type': 'text/plain' }).end('released');
};

/** Starts a request to `/api/hold` and resolves once the upstream holds it. */
const holding = async (port: number, path = '/api/hold'): Promise<{ done: Promise<number>; abort: () => void }> => {
  const before = held.length;
  let abort = (): void => undefined;
  const done = new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    abort = () => req.destroy();
    req.end();
  });
  await eventually('the upstream holds the request', () => held.length > before);
  return { done, abort };
};

let port: number;
let close: () => Promise<void>;

// The limit at the service level, with a route-level middleware inside it that may refuse.
const denyInside: Middleware = { name: 'deny', request: (ctx) => (ctx.headers.has('x-deny') ? unauthorized() : undefined) };

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('fast');
  });
  const limit = concurrencyLimit({ max: 2, headers: { allowed: true } });
  const gateway = createGateway({ use: [{ name: 'outer', request: (ctx) => (ctx.headers.has('x-outer-deny') ? unauthorized() : undefined) }] })
    .mount(service({ name: 'api', prefix: '/api', use: [limit] }, [get('/hold', { use: [denyInside] }), get('/fast', { use: [denyInside] })]), [upstream.origin])
    .mount(service({ name: 'down', prefix: '/down', use: [limit] }, [get('/any')]), [refusedOrigin])
    .build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server = createServer(app);
  port = await listen(server);
  close = async () => {
    while (held.length > 0) release();
    await closeServer(server);
    handler.transport.close();
    await gateway.close();
  };
});

afterAll(async () => {
  await close();
  await upstream.close();
});

/** Both places free: two fast requests in a row pass (each settles before the next). */
const free = async (): Promise<boolean> => (await send(port, '/api/fast')).status === 200;

describe('concurrencyLimit', () => {
  it('refuses the request over max in flight with 429 rate_limited, and admits again once one ends', async () => {
    const a = await holding(port);
    const b = await holding(port);
    const refused = await send(port, '/api/fast');
    expect({ status: refused.status, code: refused.text.split(':')[0], retryAfter: refused.headers['retry-after'], policy: refused.headers['ratelimit-policy'], state: refused.headers.ratelimit }).toEqual({
      status: 429,
      code: 'rate_limited',
      retryAfter: '1',
      policy: '"concurrency";q=2;qu="concurrent-requests"',
      state: '"concurrency";r=0',
    });
    release();
    expect(await a.done).toBe(200);
    const allowed = await send(port, '/api/fast');
    expect({ status: allowed.status, state: allowed.headers.ratelimit }).toEqual({ status: 200, state: '"concurrency";r=0' });
    release();
    expect(await b.done).toBe(200);
    expect((await send(port, '/api/fast')).headers.ratelimit).toBe('"concurrency";r=1');
  });

  it('frees the place of a request the client left', async () => {
    const a = await holding(port);
    await holding(port);
    a.abort();
    await a.done;
    // The aborted request settles as client_closed: its place frees though the upstream still holds it.
    await eventually('the place of the aborted request is free', async () => (await send(port, '/api/fast')).status === 200);
    release();
    release();
    await eventually('both places free', free);
  });

  it('frees the place of a request a middleware inside it refused, and of an upstream failure', async () => {
    for (let i = 0; i < 3; i++) expect((await send(port, '/api/fast', { headers: { 'x-deny': '1' } })).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await send(port, '/down/any')).status).toBe(502);
    expect(await free()).toBe(true);
    expect(await free()).toBe(true);
    const a = await holding(port);
    const b = await holding(port);
    expect((await send(port, '/api/fast')).status).toBe(429);
    release();
    release();
    await Promise.all([a.done, b.done]);
  });

  it('takes no place for a request refused before it ran, so releases none', async () => {
    const a = await holding(port);
    // Refused by the gateway-level middleware outside the limiter: it never held a place.
    for (let i = 0; i < 3; i++) expect((await send(port, '/api/fast', { headers: { 'x-outer-deny': '1' } })).status).toBe(401);
    const b = await holding(port);
    expect((await send(port, '/api/fast')).status).toBe(429);
    release();
    release();
    await Promise.all([a.done, b.done]);
    await eventually('both places free', free);
  });

  it('keys in-flight counts, each key with its own max', async () => {
    const perUser = concurrencyLimit({ max: 1, key: byHeader('x-user') });
    const app = express();
    const waiting: ServerResponse[] = [];
    app.use(expressMiddleware(perUser));
    app.get('/work', (_req, res) => void waiting.push(res));
    const server = createServer(app);
    const own = await listen(server);
    try {
      const first = send(own, '/work', { headers: { 'x-user': 'a' } });
      await eventually('the first request is in flight', () => waiting.length === 1);
      expect((await send(own, '/work', { headers: { 'x-user': 'a' } })).status).toBe(429);
      // The refusal settled without freeing anything (it held no place): `a` is still full.
      expect((await send(own, '/work', { headers: { 'x-user': 'a' } })).status).toBe(429);
      const other = send(own, '/work', { headers: { 'x-user': 'b' } });
      await eventually('another key is admitted', () => waiting.length === 2);
      for (const res of waiting.splice(0)) res.end('ok');
      expect([(await first).status, (await other).status]).toEqual([200, 200]);
      // The first one's end freed its place.
      const again = send(own, '/work', { headers: { 'x-user': 'a' } });
      await eventually('a is admitted again', () => waiting.length === 1);
      waiting.splice(0)[0]!.end('ok');
      expect((await again).status).toBe(200);
    } finally {
      for (const res of waiting.splice(0)) res.end();
      await closeServer(server);
    }
  });

  it('renders its refusal as the quota-exceeded problem type with the problem+json renderer', async () => {
    const limiter = concurrencyLimit({ max: 1, name: 'slots' });
    // Standalone, as expressMiddleware runs it: the first request keeps its place (no settle runs).
    expect(await call(limiter, {}, 'problem')).toEqual({ next: true });
    const result = await call(limiter, {}, 'problem');
    expect(problemOf(result)).toEqual({
      status: 429,
      type: 'application/problem+json; charset=utf-8',
      retryAfter: '1',
      body: {
        type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
        title: 'Quota Exceeded',
        status: 429,
        detail: expect.any(String),
        instance: '/x',
        code: 'rate_limited',
        retryAfter: 1,
        violatedPolicies: ['slots'],
        'violated-policies': ['slots'],
      },
    });
  });

  it('refuses a max that is not a positive whole number', () => {
    expect(() => concurrencyLimit({ max: 0 })).toThrow(/max/);
  });
});
