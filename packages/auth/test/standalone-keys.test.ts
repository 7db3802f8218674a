import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serve } from '@hono/node-server';
import { expressMiddleware } from '@apigate/express';
import { honoMiddleware } from '@apigate/hono';
import { koaMiddleware } from '@apigate/koa';
import { closeServer, listen, send } from '@apigate/test-utils/http';
import express from 'express';
import { Hono } from 'hono';
import Koa from 'koa';
import { anyOf, apiKey, jwt, signedCookies, type Consumer } from '../src/index.ts';
import { secret, sign } from './helpers.ts';
import { refusal } from './keys-helpers.ts';

const cookieKey = 'the cookie key of the standalone apps, 32+ bytes';
const keys = () => anyOf(jwt({ secret }), apiKey({ keys: [{ key: 'k-alice-0123456789', consumer: 'alice', tier: 'pro' }] }));
const cookies = () => signedCookies({ keys: [cookieKey], names: ['session'] });
const signedSession = `abc.${createHmac('sha256', cookieKey).update('session=abc').digest('base64url')}`;

/** What a handler reports: the consumer and cookies from the framework's per-request store, and the headers it got. */
interface Seen {
  consumer: string | null;
  verified: Record<string, string> | null;
  key: string | null;
  cookie: string | null;
}

/**
 * Each framework's app runs anyOf(jwt(), apiKey()) and signedCookies() as its own middleware on
 * `/data`, whose handler answers what it sees and sets a `session` cookie for signedCookies() to sign.
 */
const apps: Record<string, () => Server> = {
  express: () => {
    const app = express();
    app.use(expressMiddleware(keys(), { renderer: 'json' }));
    app.use(expressMiddleware(cookies(), { renderer: 'json' }));
    app.get('/data', (req, res) => {
      const seen: Seen = { consumer: (res.locals.consumer as Consumer | undefined)?.id ?? null, verified: (res.locals.signedCookies as Record<string, string> | undefined) ?? null, key: req.get('x-api-key') ?? null, cookie: req.get('cookie') ?? null };
      res.cookie('session', 'xyz', { path: '/' }).json(seen);
    });
    return createServer(app);
  },
  koa: () => {
    const app = new Koa();
    app.use(koaMiddleware(keys(), { renderer: 'json' }));
    app.use(koaMiddleware(cookies(), { renderer: 'json' }));
    app.use((ctx) => {
      const seen: Seen = { consumer: (ctx.state.consumer as Consumer | undefined)?.id ?? null, verified: (ctx.state.signedCookies as Record<string, string> | undefined) ?? null, key: ctx.get('x-api-key') || null, cookie: ctx.get('cookie') || null };
      ctx.set('set-cookie', 'session=xyz; Path=/');
      ctx.body = seen;
    });
    return createServer(app.callback());
  },
  hono: () => {
    const app = new Hono<{ Variables: { consumer?: Consumer; signedCookies?: Record<string, string> } }>();
    app.use(honoMiddleware(keys(), { renderer: 'json' }));
    app.use(honoMiddleware(cookies(), { renderer: 'json' }));
    app.get('/data', (c) => {
      const seen: Seen = { consumer: c.get('consumer')?.id ?? null, verified: c.get('signedCookies') ?? null, key: c.req.header('x-api-key') ?? null, cookie: c.req.header('cookie') ?? null };
      c.header('set-cookie', 'session=xyz; Path=/');
      return c.json(seen);
    });
    return serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  },
};

describe.each(Object.keys(apps))('apiKey(), anyOf() and signedCookies() as plain %s middleware', (framework) => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = apps[framework]!();
    port = await listen(server);
  });

  afterAll(async () => {
    await closeServer(server);
  });

  it("goes on to the app's handler with the consumer and the verified cookie in its store, the key removed and the signature cut off", async () => {
    const reply = await send(port, '/data', { headers: { 'x-api-key': 'k-alice-0123456789', cookie: `session=${signedSession}; theme=dark` } });
    expect([reply.status, reply.json()]).toEqual([200, { consumer: 'alice', verified: { session: 'abc' }, key: null, cookie: 'session=abc; theme=dark' }]);
  });

  it("signs the session cookie the app's handler sets", async () => {
    const reply = await send(port, '/data', { headers: { authorization: `Bearer ${await sign({ sub: 'a' }, secret)}` } });
    expect(reply.headers['set-cookie']).toEqual([`session=xyz.${createHmac('sha256', cookieKey).update('session=xyz').digest('base64url')}; Path=/`]);
  });

  it('drops a badly signed cookie before the handler sees it', async () => {
    const reply = await send(port, '/data', { headers: { 'x-api-key': 'k-alice-0123456789', cookie: `session=${signedSession.slice(0, -2)}; theme=dark` } });
    expect(reply.json<Seen>()).toMatchObject({ verified: {}, cookie: 'theme=dark' });
  });

  it.each<[string, Record<string, string>, ReturnType<typeof refusal>]>([
    ['no credentials', {}, { status: 401, code: 'unauthorized', challenge: 'Bearer realm="api", ApiKey realm="api", header="x-api-key"' }],
    ['an unknown key', { 'x-api-key': 'k-nobody-0123456789' }, { status: 401, code: 'invalid_api_key', challenge: 'ApiKey realm="api", header="x-api-key", error="invalid_api_key"' }],
    ['an empty key', { 'x-api-key': '' }, { status: 400, code: 'invalid_request', challenge: 'ApiKey realm="api", header="x-api-key", error="invalid_request"' }],
  ])('answers %s itself, rendered by the framework adapter', async (_what, headers, expected) => {
    expect(refusal(await send(port, '/data', { headers }))).toEqual(expected);
  });
});
