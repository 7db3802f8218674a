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
import { jwt, type JwtOptions } from '../src/index.ts';
import { refusal, secret, sign } from './helpers.ts';

const options: JwtOptions = { secret, claimHeaders: { sub: 'x-user-id' }, scopes: { any: ['read'] } };

/**
 * Each framework's app answers `/data` with what its handler sees after jwt(): the claims' `sub`
 * from the framework's own per-request store, the mapped header, and the Authorization header.
 */
const apps: Record<string, () => Server> = {
  express: () => {
    const app = express();
    app.use(expressMiddleware(jwt(options), { renderer: 'json' }));
    app.get('/data', (req, res) => {
      res.json({ sub: (res.locals.claims as { sub?: string } | undefined)?.sub, user: req.headers['x-user-id'], authorization: req.headers.authorization ?? null });
    });
    return createServer(app);
  },
  koa: () => {
    const app = new Koa();
    app.use(koaMiddleware(jwt(options), { renderer: 'json' }));
    app.use((ctx) => {
      ctx.body = { sub: (ctx.state.claims as { sub?: string } | undefined)?.sub, user: ctx.get('x-user-id'), authorization: ctx.get('authorization') || null };
    });
    return createServer(app.callback());
  },
  hono: () => {
    const app = new Hono<{ Variables: { claims: { sub?: string } } }>();
    app.use(honoMiddleware(jwt(options), { renderer: 'json' }));
    app.get('/data', (c) => c.json({ sub: c.get('claims').sub, user: c.req.header('x-user-id'), authorization: c.req.header('authorization') ?? null }));
    return serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  },
};

describe.each(Object.keys(apps))('jwt() as plain %s middleware', (framework) => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = apps[framework]!();
    port = await listen(server);
  });

  afterAll(async () => {
    await closeServer(server);
  });

  it("goes on to the app's handler with the claims in its per-request store, the mapped header set and the Authorization removed", async () => {
    const token = await sign({ sub: 'alice', scope: 'read' }, secret);
    const reply = await send(port, '/data', { headers: { authorization: `Bearer ${token}`, 'x-user-id': 'mallory' } });
    expect([reply.status, reply.json()]).toEqual([200, { sub: 'alice', user: 'alice', authorization: null }]);
  });

  it.each<[string, () => Promise<Record<string, string>>, ReturnType<typeof refusal>]>([
    ['no token', async () => ({}), { status: 401, code: 'unauthorized', challenge: 'Bearer realm="api"' }],
    ['an expired token', async () => ({ authorization: `Bearer ${await sign({ scope: 'read' }, secret, { expiresIn: -3600 })}` }), { status: 401, code: 'invalid_token', challenge: 'Bearer realm="api", error="invalid_token", error_description="The access token expired."' }],
    ['a token without the scope', async () => ({ authorization: `Bearer ${await sign({ scope: 'write' }, secret)}` }), { status: 403, code: 'insufficient_scope', challenge: 'Bearer realm="api", error="insufficient_scope", scope="read"' }],
  ])('answers %s itself, rendered by the framework adapter', async (_what, headers, expected) => {
    expect(refusal(await send(port, '/data', { headers: await headers() }))).toEqual(expected);
  });
});
