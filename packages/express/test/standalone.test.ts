import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { brokenResponse, describeStandaloneMiddleware, nodeMiddlewareApp, tierMiddleware } from '@apigate/test-utils/middleware';
import type { Hook } from '@apigate/core';
import { json, unauthorized } from '@apigate/errors';
import express from 'express';
import { expressMiddleware } from '../src/index.ts';
import { closeServer, listen, send } from './helpers.ts';

/** Checks an API key; a known key goes on with the caller's name in scope. */
const requireApiKey: Hook = (context) => {
  const key = context.headers.get('x-api-key');
  if (key === undefined) return unauthorized('An API key is required.', { headers: { 'www-authenticate': 'ApiKey' } });
  if (key === 'teapot') return json(418, { brewing: true, state: context.state, path: context.path, query: context.query });
  if (key === 'boom') throw new Error('the key store is down');
  if (key !== 'secret') throw unauthorized();
  context.set('caller' as never, 'alice' as never);
  return undefined;
};

describe('expressMiddleware', () => {
  let server: Server;
  let port: number;
  const reached: string[] = [];

  beforeAll(async () => {
    const app = express();
    app.use('/text', expressMiddleware(requireApiKey));
    app.use('/json', expressMiddleware(requireApiKey, { renderer: 'json', state: { app: 'demo' } }));
    app.get(['/text/data', '/json/data'], (req, res) => {
      reached.push(req.path);
      res.json({ caller: res.locals.caller as unknown });
    });
    server = createServer(app);
    port = await listen(server);
  });

  afterAll(async () => {
    await closeServer(server);
  });

  it('goes on to the next handler, which sees the scope the hook set in res.locals', async () => {
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
    expect(reply.headers['content-length']).toBe(String(reply.body.byteLength));
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
    // Mounted at /json, Express strips the mount path from req.url: the hook sees the rest.
    const reply = await send(port, '/json/data?x=1', { headers: { 'x-api-key': 'teapot' } });
    expect(reply.status).toBe(418);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.json()).toEqual({ brewing: true, state: { app: 'demo' }, path: '/data', query: 'x=1' });
  });

  it('renders a plain Error a hook throws as 500 internal, without its message', async () => {
    const reply = await send(port, '/text/data', { headers: { 'x-api-key': 'boom' } });
    expect(reply.status).toBe(500);
    expect(reply.text).toBe('internal: The gateway failed to handle the request.\n');
    const rendered = await send(port, '/json/data', { headers: { 'x-api-key': 'boom' } });
    expect(rendered.status).toBe(500);
    expect(rendered.json()).toEqual({ error: { code: 'internal', message: 'The gateway failed to handle the request.', status: 500 } });
  });

  it('answers HEAD with the status and no body', async () => {
    const reply = await send(port, '/text/data', { method: 'HEAD' });
    expect(reply.status).toBe(401);
    expect(reply.body.byteLength).toBe(0);
  });
});

describeStandaloneMiddleware('expressMiddleware with a whole middleware', async (settled) => {
  const app = express();
  // Mounted without a path: a mount path would cut it off `req.url`, which the phases see.
  const tier = expressMiddleware(tierMiddleware(settled), { renderer: 'json' });
  const broken = expressMiddleware(brokenResponse);
  app.use((req, res, next) => (req.path.startsWith('/broken') ? broken(req, res, next) : tier(req, res, next)));
  app.get('/tier/data', (req, res) => {
    res.json({ tier: res.locals.tier as unknown, seen: req.headers['x-tier-seen'] });
  });
  app.get('/broken/data', (_req, res) => {
    res.send('still sent');
  });
  return nodeMiddlewareApp(createServer(app));
});
