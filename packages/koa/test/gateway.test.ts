import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { createGateway, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import Koa, { type Middleware } from 'koa';
import { koaGateway } from '../src/index.ts';
import { checkedJson, closeServer, listen, send, startUpstream, streamUpload, type Echo, type Upstream } from './helpers.ts';

interface KoaApp {
  readonly server: Server;
  readonly port: number;
  readonly close: () => Promise<void>;
}

const seenByCheck: unknown[] = [];

const salesGateway = (origin: string, options: GatewayOptions<Record<string, never>> = {}): Gateway<Record<string, never>> =>
  createGateway(options)
    .mount(
      service({ name: 'sales', prefix: '/sales' }, [
        get('/ping'),
        get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
        get('/search/{term}', { to: '/find/{term}?source=gateway' }),
        get('/public', { to: '/internal' }),
        post('/orders'),
        post('/upload'),
        { ...post('/checked'), input: checkedJson((value) => typeof (value as { sku?: unknown }).sku === 'string', seenByCheck) },
      ]),
      [origin],
    )
    .build();

/**
 * A real Koa app: an outer middleware that marks every response, optional middleware (a body
 * parser), the gateway, then @koa/router routes and allowedMethods().
 */
const startKoa = async (gateway: Gateway, before: readonly Middleware[] = []): Promise<KoaApp> => {
  const koa = new Koa();
  koa.use(async (ctx, next) => {
    ctx.set('x-outer', 'ran');
    await next();
  });
  for (const middleware of before) koa.use(middleware);
  const middleware = koaGateway(gateway);
  koa.use(middleware);
  const router = new Router();
  router.get('/own', (ctx) => {
    ctx.body = 'own route';
  });
  router.get('/sales/own', (ctx) => {
    ctx.body = 'own route under the prefix';
  });
  router.post('/own-json', (ctx) => {
    ctx.body = { got: (ctx.request as { body?: unknown }).body };
  });
  koa.use(router.routes());
  koa.use(router.allowedMethods());
  const server = createServer(koa.callback());
  const port = await listen(server);
  return {
    server,
    port,
    close: async () => {
      await closeServer(server);
      middleware.transport.close();
    },
  };
};

describe('koaGateway beside the app', () => {
  let upstream: Upstream;
  let app: KoaApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    app = await startKoa(salesGateway(upstream.origin));
  });

  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  it('proxies a gateway route inside the outer middleware and leaves @koa/router its routes', async () => {
    const proxied = await send(app.port, '/sales/ping?x=1');
    expect(proxied.status).toBe(200);
    expect(proxied.json<Echo>().url).toBe('/ping?x=1');
    expect(proxied.headers['x-outer']).toBe('ran');
    const own = await send(app.port, '/own');
    expect(own.text).toBe('own route');
    expect(own.headers['x-outer']).toBe('ran');
  });

  it('falls through with next() for a path under the prefix that no gateway route declares', async () => {
    const before = upstream.seen.length;
    const own = await send(app.port, '/sales/own');
    expect(own.status).toBe(200);
    expect(own.text).toBe('own route under the prefix');
    const missing = await send(app.port, '/nope');
    expect(missing.status).toBe(404);
    expect(upstream.seen).toHaveLength(before);
  });

  it('rewrites with a static path, a template and a `to` with its own query', async () => {
    expect((await send(app.port, '/sales/public?a=1')).json<Echo>().url).toBe('/internal?a=1');
    expect((await send(app.port, '/sales/item/42/review?lang=en')).json<Echo>().url).toBe('/api/v2/reviews/42?lang=en');
    expect((await send(app.port, '/sales/search/red%20shoes')).json<Echo>().url).toBe('/find/red%20shoes?source=gateway');
  });

  it('refuses a parameter that would escape its segment, without reaching the upstream', async () => {
    const before = upstream.seen.length;
    for (const id of ['..', '%2E%2E', 'a%2Fb']) {
      const reply = await send(app.port, `/sales/item/${id}/review`);
      expect(reply.status).toBe(400);
      expect(reply.text).toMatch(/^invalid_path: /);
    }
    expect(upstream.seen).toHaveLength(before);
  });

  it('answers 405 with Allow for a method the gateway route does not take', async () => {
    const reply = await send(app.port, '/sales/ping', { method: 'DELETE' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(reply.text).toBe('method_not_allowed: The method is not allowed for this resource.\n');
  });

  it('streams a passthrough upload without a body parser', async () => {
    const reply = await streamUpload(app.port, '/sales/upload', 8 * 1024 * 1024 + 3);
    expect(reply.status).toBe(200);
    expect(reply.json<Echo>().bytes).toBe(8 * 1024 * 1024 + 3);
  });

  it('reads the body of a checked route itself, up to the limit', async () => {
    const body = '{"sku": "A-1"}';
    const reply = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.status).toBe(200);
    expect(reply.json<Echo>()).toMatchObject({ body, headers: { 'content-length': String(body.length) } });
    const invalid = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku": 1}' });
    expect(invalid.status).toBe(422);
    expect(invalid.text).toMatch(/^validation_failed: /);
  });
});

describe('koaGateway behind @koa/bodyparser', () => {
  let upstream: Upstream;
  let app: KoaApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    app = await startKoa(salesGateway(upstream.origin), [bodyParser()]);
  });

  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  afterEach(() => {
    seenByCheck.length = 0;
  });

  it('forwards a parsed JSON passthrough body byte for byte, with its Content-Length in bytes', async () => {
    const body = '{ "sku":  "Ä-1",\n  "qty": 2.50 }';
    const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const seen = reply.json<Echo>();
    expect(seen.body).toBe(body);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(seen.headers['transfer-encoding']).toBeUndefined();
  });

  it('forwards a gzipped JSON body the parser inflated as the inflated text, without Content-Encoding', async () => {
    const body = '{"sku": "gz"}';
    const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(body) });
    const seen = reply.json<Echo>();
    expect(seen.body).toBe(body);
    expect(seen.headers['content-encoding']).toBeUndefined();
    expect(seen.headers['content-length']).toBe(String(body.length));
  });

  it('forwards a parsed urlencoded body as sent', async () => {
    const body = 'b=2&a=1&a=%C3%A4&empty=';
    const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(reply.json<Echo>()).toMatchObject({ body, headers: { 'content-length': String(body.length) } });
  });

  it('forwards a chunked JSON body that the parser read, re-framed with a Content-Length', async () => {
    const reply = await send(app.port, '/sales/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: '{"a":[1,2,3]}',
    });
    const seen = reply.json<Echo>();
    expect(seen.body).toBe('{"a":[1,2,3]}');
    expect(seen.headers['content-length']).toBe('13');
    expect(seen.headers['transfer-encoding']).toBeUndefined();
  });

  it('leaves a body of a type the parser skips unread, and streams it', async () => {
    const reply = await streamUpload(app.port, '/sales/upload', 4 * 1024 * 1024 + 1);
    expect(reply.json<Echo>().bytes).toBe(4 * 1024 * 1024 + 1);
  });

  it('hands the parsed body to a checked route and forwards it', async () => {
    const body = '{"sku":"A-1","qty":3}';
    const reply = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.status).toBe(200);
    expect(seenByCheck).toEqual([{ sku: 'A-1', qty: 3 }]);
    expect(reply.json<Echo>()).toMatchObject({ body, headers: { 'content-length': String(body.length) } });
    const invalid = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"qty":3}' });
    expect(invalid.status).toBe(422);
  });

  it('leaves the parsed body to the app routes it falls through to', async () => {
    const reply = await send(app.port, '/own-json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    expect(reply.json()).toEqual({ got: { n: 1 } });
  });

  it('forwards an empty JSON body as empty, not as the parser\'s {}', async () => {
    const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '0' } });
    expect(reply.json<Echo>()).toMatchObject({ bytes: 0, headers: { 'content-length': '0' } });
  });
});

describe('koaGateway behind @koa/bodyparser with patchNode', () => {
  it('forwards the raw text the parser kept rather than a re-serialized object', async () => {
    const upstream = await startUpstream();
    const app = await startKoa(salesGateway(upstream.origin), [bodyParser({ patchNode: true })]);
    try {
      const body = '{"b": 1, "a": [ 1 ]}';
      const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(reply.json<Echo>()).toMatchObject({ body, headers: { 'content-length': String(body.length) } });
    } finally {
      await app.close();
      await upstream.close();
    }
  });
});

describe('koaGateway body limits', () => {
  it('answers 413 before reading a declared body over the limit on a checked route', async () => {
    const upstream = await startUpstream();
    const app = await startKoa(salesGateway(upstream.origin, { bodyLimit: 1024 }));
    try {
      const reply = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'x'.repeat(2048) }) });
      expect(reply.status).toBe(413);
      expect(reply.text).toMatch(/^payload_too_large: /);
      expect(upstream.seen).toHaveLength(0);
    } finally {
      await app.close();
      await upstream.close();
    }
  });
});
