import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { brokenResponse, describeStandaloneMiddleware, nodeMiddlewareApp, tierMiddleware } from '@apigate/test-utils/middleware';
import Router from '@koa/router';
import type { Hook } from '@apigate/core';
import { json, unauthorized } from '@apigate/errors';
import Koa from 'koa';
import { koaMiddleware } from '../src/index.ts';
import { closeServer, listen, send } from './helpers.ts';

/** Checks an API key; a known key goes on with the caller's name in scope. */
const requireApiKey: Hook = (context) => {
  const key = context.headers.get('x-api-key');
  if (key === undefined) return unauthorized('An API key is required.', { headers: { 'www-authenticate': 'ApiKey' } });
  if (key === 'teapot') return json(418, { brewing: true, state: context.state });
  if (key === 'boom') throw new Error('the key store is down');
  if (key !== 'secret') throw unauthorized();
  context.set('caller' as never, 'alice' as never);
  return undefined;
};

describe('koaMiddleware', () => {
  let server: Server;
  let port: number;
  const reached: string[] = [];

  beforeAll(async () => {
    const koa = new Koa();
    const router = new Router();
    router.get('/text/data', (ctx) => {
      reached.push(ctx.path);
      ctx.body = { caller: ctx.state.caller };
    });
    router.get('/json/data', (ctx) => {
      reached.push(ctx.path);
      ctx.body = { caller: ctx.state.caller };
    });
    koa.use(async (ctx, next) => {
      if (ctx.path.startsWith('/json/')) await koaMiddleware(requireApiKey, { renderer: 'json', state: { app: 'demo' } })(ctx, next);
      else await koaMiddleware(requireApiKey)(ctx, next);
    });
    koa.use(router.routes());
    server = createServer(koa.callback());
    port = await listen(server);
  });

  afterAll(async () => {
    await closeServer(server);
  });

  it('goes on to the next middleware, which sees the scope the hook set in ctx.state', async () => {
    const reply = await send(port, '/text/data', { headers: { 'x-api-key': 'secret' } });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ caller: 'alice' });
    expect(reached).toContain('/text/data');
  });

  it('answers 401 rendered as text, with the headers of the error, and goes no further', async () => {
    const before = reached.length;
    const reply = await send(port, '/text/data');
    expect(reply.status).toBe(401);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.headers['www-authenticate']).toBe('ApiKey');
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength(reply.text)));
    expect(reply.text).toBe('unauthorized: An API key is required.\n');
    expect(reached).toHaveLength(before);
  });

  it('answers 401 with the json renderer', async () => {
    const reply = await send(port, '/json/data', { headers: { 'x-api-key': 'wrong' } });
    expect(reply.status).toBe(401);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.json()).toEqual({ error: { code: 'unauthorized', message: 'Authentication is required.', status: 401 } });
  });

  it("sends a hook's own json() response as it is, with the app state given", async () => {
    const reply = await send(port, '/json/data', { headers: { 'x-api-key': 'teapot' } });
    expect(reply.status).toBe(418);
    expect(reply.json()).toEqual({ brewing: true, state: { app: 'demo' } });
  });

  it('renders a plain Error a hook throws as 500 internal, without its message', async () => {
    const reply = await send(port, '/text/data', { headers: { 'x-api-key': 'boom' } });
    expect(reply.status).toBe(500);
    expect(reply.text).toBe('internal: The gateway failed to handle the request.\n');
  });

  it('answers HEAD with the status and no body', async () => {
    const reply = await send(port, '/text/data', { method: 'HEAD' });
    expect(reply.status).toBe(401);
    expect(reply.text).toBe('');
  });
});

describeStandaloneMiddleware('koaMiddleware with a whole middleware', async (settled) => {
  const koa = new Koa();
  const tier = koaMiddleware(tierMiddleware(settled), { renderer: 'json' });
  const broken = koaMiddleware(brokenResponse);
  koa.use(async (ctx, next) => (ctx.path.startsWith('/broken') ? broken(ctx, next) : tier(ctx, next)));
  koa.use((ctx) => {
    ctx.body = ctx.path.startsWith('/broken') ? 'still sent' : { tier: ctx.state.tier, seen: ctx.get('x-tier-seen') };
  });
  return nodeMiddlewareApp(createServer(koa.callback()));
});
