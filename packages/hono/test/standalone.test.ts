import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { brokenResponse, describeStandaloneMiddleware, tierMiddleware } from '@apigate/test-utils/middleware';
import type { Hook } from '@apigate/core';
import { json, unauthorized } from '@apigate/errors';
import { Hono } from 'hono';
import { honoMiddleware } from '../src/index.ts';
import { send, serveHono, type HonoServer } from './helpers.ts';

/** Checks an API key; a known key goes on with the caller's name in scope. */
const requireApiKey: Hook = (context) => {
  const key = context.headers.get('x-api-key');
  if (key === undefined) return unauthorized('An API key is required.', { headers: { 'www-authenticate': 'ApiKey' } });
  if (key === 'teapot') return json(418, { brewing: true, state: context.state, path: context.path, query: context.query });
  if (key === 'boom') throw new Error('the key store is down');
  if (key !== 'secret') throw unauthorized();
  context.set('caller' as never, 'alice' as never);
  // Header edits reach the handlers after the hook.
  context.headers.set('x-caller', 'alice');
  return undefined;
};

type Env = { Variables: { caller: string } };

const buildApp = (): Hono<Env> => {
  const app = new Hono<Env>();
  app.use('/text/*', honoMiddleware(requireApiKey));
  app.use('/json/*', honoMiddleware(requireApiKey, { renderer: 'json', state: { app: 'demo' } }));
  app.on('GET', ['/text/data', '/json/data'], (c) => c.json({ caller: c.get('caller'), header: c.req.header('x-caller') }));
  return app;
};

describe('honoMiddleware', () => {
  const app = buildApp();

  it('goes on to the handler, which reads the scope with c.get() and the headers the hook set', async () => {
    const reply = await app.request('/text/data', { headers: { 'x-api-key': 'secret' } });
    expect(reply.status).toBe(200);
    expect(await reply.json()).toEqual({ caller: 'alice', header: 'alice' });
  });

  it('answers 401 rendered as text with the headers of the error', async () => {
    const reply = await app.request('/text/data');
    expect(reply.status).toBe(401);
    expect(reply.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(reply.headers.get('www-authenticate')).toBe('ApiKey');
    expect(await reply.text()).toBe('unauthorized: An API key is required.\n');
  });

  it('answers 401 with the json renderer', async () => {
    const reply = await app.request('/json/data', { headers: { 'x-api-key': 'nope' } });
    expect(reply.status).toBe(401);
    expect(await reply.json()).toEqual({ error: { code: 'unauthorized', message: 'Authentication is required.', status: 401 } });
  });

  it("sends a hook's own json() response, with the app state, path and query", async () => {
    const reply = await app.request('/json/data?x=1', { headers: { 'x-api-key': 'teapot' } });
    expect(reply.status).toBe(418);
    expect(await reply.json()).toEqual({ brewing: true, state: { app: 'demo' }, path: '/json/data', query: 'x=1' });
  });

  it('renders a plain Error a hook throws as 500 internal', async () => {
    const reply = await app.request('/text/data', { headers: { 'x-api-key': 'boom' } });
    expect(reply.status).toBe(500);
    expect(await reply.text()).toBe('internal: The gateway failed to handle the request.\n');
  });
});

describe('honoMiddleware on @hono/node-server', () => {
  let server: HonoServer;

  beforeAll(async () => {
    server = await serveHono(buildApp().fetch as never);
  });

  afterAll(async () => {
    await server.close();
  });

  it('goes on or answers over real HTTP', async () => {
    expect((await send(server.port, '/text/data', { headers: { 'x-api-key': 'secret' } })).json()).toEqual({ caller: 'alice', header: 'alice' });
    const refused = await send(server.port, '/text/data');
    expect(refused.status).toBe(401);
    expect(refused.headers['content-length']).toBe(String(Buffer.byteLength(refused.text)));
    const head = await send(server.port, '/text/data', { method: 'HEAD' });
    expect(head.status).toBe(401);
    expect(head.text).toBe('');
  });
});

describeStandaloneMiddleware('honoMiddleware with a whole middleware', async (settled) => {
  const app = new Hono<{ Variables: { tier: string } }>();
  app.use('/tier/*', honoMiddleware(tierMiddleware(settled), { renderer: 'json' }));
  app.use('/broken/*', honoMiddleware(brokenResponse));
  app.get('/tier/data', (c) => c.json({ tier: c.get('tier'), seen: c.req.header('x-tier-seen') }));
  app.get('/broken/data', (c) => c.text('still sent'));
  const server = await serveHono(app.fetch);
  const base = server.origin;
  return {
    get: async (path, headers = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      const text = await res.text();
      return { status: res.status, text, header: (name) => res.headers.get(name) ?? undefined, cookies: res.headers.getSetCookie() };
    },
    close: () => server.close(),
  };
});

describe('honoMiddleware: the response phase over headers the handler set', () => {
  it('keeps what the phase replaced or removed (Hono copies the old response headers onto a new c.res)', async () => {
    const app = new Hono();
    app.use(
      honoMiddleware({
        name: 'rewrite-headers',
        response: (ctx) => {
          ctx.headers.set('set-cookie', ctx.headers.values('set-cookie').map((cookie) => cookie.replace('=plain', '=signed')));
          ctx.headers.set('x-kind', 'replaced');
          ctx.headers.delete('x-internal');
        },
      }),
    );
    app.get('/h', (c) => {
      c.header('set-cookie', 'a=plain; Path=/', { append: true });
      c.header('set-cookie', 'b=plain', { append: true });
      c.header('x-kind', 'original');
      c.header('x-internal', 'secret');
      return c.text('ok');
    });
    const reply = await app.request('/h');
    expect({ cookies: reply.headers.getSetCookie(), kind: reply.headers.get('x-kind'), internal: reply.headers.get('x-internal'), body: await reply.text() }).toEqual({
      cookies: ['a=signed; Path=/', 'b=signed'],
      kind: 'replaced',
      internal: null,
      body: 'ok',
    });
  });
});
