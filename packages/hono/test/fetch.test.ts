import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createGateway, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import { Hono } from 'hono';
import { honoGateway } from '../src/index.ts';
import {
  checkedJson,
  connectionsOf,
  eventually,
  refusedOrigin,
  parseHead,
  rawRequest,
  send,
  serveHono,
  startUpstream,
  tcpHandles,
  type Echo,
  type HonoServer,
  type Upstream,
  type UpstreamHandler,
} from './helpers.ts';

type Outcome = { status: number } | { error: string };

const salesGateway = (origin: string, outcomes: Outcome[] = [], options: GatewayOptions<Record<string, never>> = {}): Gateway<Record<string, never>> =>
  createGateway({
    ...options,
    observer: {
      upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
      upstreamFailed: (event) => outcomes.push({ error: event.error.code }),
    },
  })
    .mount(
      service({ name: 'sales', prefix: '/sales' }, [
        get('/ping'),
        get('/public', { to: '/internal' }),
        get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
        get('/search/{term}', { to: '/find/{term}?source=gateway' }),
        get('/stream'),
        post('/orders'),
        post('/upload'),
        { ...post('/checked'), input: checkedJson((value) => typeof (value as { sku?: unknown }).sku === 'string') },
      ]),
      [origin],
    )
    .build();

/** The edge `honoGateway` (fetch transport) in a Hono app, with the app's own routes after it. */
const edgeApp = (gateway: Gateway, before?: (app: Hono) => void): Hono => {
  const app = new Hono();
  before?.(app);
  app.use(honoGateway(gateway, { clientIp: (c) => getConnInfo(c).remote.address }));
  app.get('/own', (c) => c.text('own route'));
  app.get('/sales/own', (c) => c.text('own route under the prefix'));
  return app;
};

describe('honoGateway (fetch) through app.request()', () => {
  let upstream: Upstream;
  let app: Hono;

  beforeAll(async () => {
    upstream = await startUpstream();
    const plain = new Hono();
    plain.use(honoGateway(salesGateway(upstream.origin)));
    plain.get('/own', (c) => c.text('own route'));
    app = plain;
  });

  afterAll(async () => {
    await upstream.close();
  });

  it('rewrites, keeps the query, and falls through to the app', async () => {
    expect(((await (await app.request('/sales/public?a=1')).json()) as Echo).url).toBe('/internal?a=1');
    expect(((await (await app.request('/sales/item/9/review?x=%20')).json()) as Echo).url).toBe('/api/v2/reviews/9?x=%20');
    expect(((await (await app.request('/sales/search/a%20b')).json()) as Echo).url).toBe('/find/a%20b?source=gateway');
    expect(await (await app.request('/own')).text()).toBe('own route');
    expect((await app.request('/nope')).status).toBe(404);
  });

  it('refuses a parameter that would escape its segment', async () => {
    const reply = await app.request('/sales/item/a%2Fb/review');
    expect(reply.status).toBe(400);
    expect(await reply.text()).toMatch(/^invalid_path: /);
  });

  it('answers 405 with Allow', async () => {
    const reply = await app.request('/sales/ping', { method: 'PUT', body: 'x' });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
  });

  it('forwards a POST body (chunked: a Request made in-process declares no length)', async () => {
    const reply = await app.request('/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a": 1}' });
    expect((await reply.json()) as Echo).toMatchObject({ body: '{"a": 1}', headers: { 'content-type': 'application/json' } });
  });
});

// The fetch transport on Node (undici under @hono/node-server), a runtime the conformance matrix does
// not run: its fault mapping differs from workerd's (a reset is upstream_reset here, and a client's
// leaving reaches the gateway), so its faults stay here beside the fetch adapter's other cases. On
// the four conformance adapters the same faults are apps/conformance cases.
describe('honoGateway (fetch) on @hono/node-server', () => {
  let baseline = 0;
  let opened: { close: () => Promise<void> }[] = [];
  let outcomes: Outcome[] = [];

  beforeEach(() => {
    baseline = tcpHandles();
    opened = [];
    outcomes = [];
  });

  afterEach(async () => {
    for (const resource of opened.reverse()) await resource.close();
  });

  const upstreamWith = async (handler?: UpstreamHandler): Promise<Upstream> => {
    const upstream = await startUpstream(handler);
    opened.push(upstream);
    return upstream;
  };

  const gatewayTo = async (origin: string, options: GatewayOptions<Record<string, never>> = {}, before?: (app: Hono) => void): Promise<HonoServer> => {
    const server = await serveHono(edgeApp(salesGateway(origin, outcomes, options), before).fetch as never);
    opened.push(server);
    return server;
  };

  /** The gateway still serves, holds no client connection, and no TCP handle outlives the test. */
  const expectNothingLeaked = async (app: HonoServer, upstream?: Upstream): Promise<void> => {
    expect((await send(app.port, '/own')).text).toBe('own route');
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(app.server)) === 0);
    if (upstream) await eventually('the upstream holds no busy connection', async () => (await connectionsOf(upstream.server)) <= 1);
    for (const resource of opened.reverse()) await resource.close();
    opened = [];
    await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
  };

  it('rewrites over real HTTP and leaves the app its routes', async () => {
    const upstream = await upstreamWith();
    const app = await gatewayTo(upstream.origin);
    expect((await send(app.port, '/sales/item/42/review?lang=en')).json<Echo>().url).toBe('/api/v2/reviews/42?lang=en');
    expect((await send(app.port, '/sales/own')).text).toBe('own route under the prefix');
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ status: 200 }]);
    await expectNothingLeaked(app, upstream);
  });

  it('drops hop-by-hop and Connection-listed headers both ways and replaces spoofed X-Forwarded-*', async () => {
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'x-internal',
        'x-internal': 'secret',
        'proxy-authenticate': 'Basic',
        'x-kept': 'yes',
      });
      res.end(JSON.stringify(req.headers));
    });
    const app = await gatewayTo(upstream.origin);
    const reply = await send(app.port, '/sales/ping', {
      headers: {
        connection: 'keep-alive, x-hop',
        'x-hop': 'drop me',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic Zm9v',
        te: 'trailers',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'evil.test',
        'x-forwarded-proto': 'https',
        forwarded: 'for=6.6.6.6',
        'x-end-to-end': 'kept',
      },
    });
    const seen = reply.json<Record<string, string>>();
    for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) expect(seen[name]).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(`127.0.0.1:${app.port}`);
    expect(seen.forwarded).toBe(`for=127.0.0.1;proto=http;host="127.0.0.1:${app.port}"`);
    expect(reply.headers['x-internal']).toBeUndefined();
    expect(reply.headers['proxy-authenticate']).toBeUndefined();
    expect(reply.headers['x-kept']).toBe('yes');
    await expectNothingLeaked(app, upstream);
  });

  it("takes the client's address from the Node socket by default, as getConnInfo does", async () => {
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.headers));
    });
    const seenByHook: (string | undefined)[] = [];
    const gateway = createGateway({})
      .mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping', { before: (ctx) => void seenByHook.push(ctx.clientIp) })]), [upstream.origin])
      .build();
    const app = new Hono();
    app.use(honoGateway(gateway));
    app.get('/own', (c) => c.text('own route'));
    const server = await serveHono(app.fetch as never);
    opened.push(server);
    const seen = (await send(server.port, '/sales/ping', { headers: { 'x-forwarded-for': '6.6.6.6' } })).json<Record<string, string>>();
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.forwarded).toBe(`for=127.0.0.1;proto=http;host="127.0.0.1:${server.port}"`);
    expect(seenByHook).toEqual(['127.0.0.1']);
    await expectNothingLeaked(server, upstream);
  });

  it('streams the response: the client gets the first chunk while the upstream still waits', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(64 * 1024, 'a'));
      // The rest only once the client holds the first chunk: a buffering gateway would hang here.
      released.then(() => {
        for (let i = 0; i < 64; i++) res.write(Buffer.alloc(64 * 1024, 'b'));
        res.end();
      }, undefined);
    });
    const app = await gatewayTo(upstream.origin);
    const bytes = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: app.port, path: '/sales/stream', agent: false }, (res) => {
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.byteLength;
          release();
        });
        res.on('end', () => resolve(total));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(bytes).toBe(65 * 64 * 1024);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ status: 200 }]);
    await expectNothingLeaked(app, upstream);
  });

  it('streams the request body: the upstream gets the first chunk before the client finishes sending', async () => {
    let firstChunk!: () => void;
    const upstreamGotSome = new Promise<void>((resolve) => (firstChunk = resolve));
    const upstream = await upstreamWith((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        firstChunk();
      });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    });
    const app = await gatewayTo(upstream.origin);
    const reply = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: app.port, path: '/sales/upload', method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1000, 'x'));
      // The rest only once the upstream has the first chunk: a buffering gateway would hang here.
      upstreamGotSome.then(() => req.end(Buffer.alloc(3 * 1024 * 1024, 'y')), reject);
    });
    expect(JSON.parse(await reply)).toEqual({ bytes: 1000 + 3 * 1024 * 1024 });
    await expectNothingLeaked(app, upstream);
  });

  it('answers 504 upstream_timeout when the upstream stays silent past requestTimeout, and closes its connection to it', async () => {
    let arrived = 0;
    const upstream = await upstreamWith((req) => {
      arrived++;
      req.resume();
    });
    // Generous, so that the request is in at the upstream long before the gateway gives up on it.
    const app = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 1_000 } });
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('upstream_timeout: The upstream did not respond in time.\n');
    expect(arrived).toBe(1);
    // A bounded wait for the gateway's abort, not for an upstream event that may never come.
    await eventually('the gateway closed its connection to the silent upstream', async () => (await connectionsOf(upstream.server)) === 0);
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('answers 502 upstream_unreachable when the upstream refuses the connection', async () => {
    const app = await gatewayTo(refusedOrigin);
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_unreachable: The upstream could not be reached.\n');
    expect(outcomes).toEqual([{ error: 'upstream_unreachable' }]);
    await expectNothingLeaked(app);
  });

  it('answers 502 upstream_reset when the upstream closes the connection before responding', async () => {
    const upstream = await upstreamWith((req) => req.socket.destroy());
    const app = await gatewayTo(upstream.origin);
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_reset: The upstream closed the connection before responding.\n');
    expect(outcomes).toEqual([{ error: 'upstream_reset' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the client connection, without a second response, when the upstream dies mid-body', async () => {
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
      // Dies once the first part is out, not once the client holds it: the fetch transport reads a
      // body this small whole before the client gets any of it (docs/proxy.md).
      res.write('x'.repeat(100), () => setImmediate(() => req.socket.destroy()));
    });
    const app = await gatewayTo(upstream.origin);
    // @hono/node-server logs the failed response stream with console.error before aborting the client.
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let raw: string;
    try {
      raw = await rawRequest(app.port, 'GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    } finally {
      logged.mockRestore();
    }
    const { status } = parseHead(raw);
    expect(status).toBe(200);
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    // The client never gets the 1000 bytes it was promised: the connection ends short.
    expect(raw).not.toContain('x'.repeat(1000));
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'upstream_reset' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the client connection, and the upstream request, when the upstream goes silent mid-body past requestTimeout', async () => {
    let closed!: (finished: boolean) => void;
    const upstreamClosed = new Promise<boolean>((resolve) => (closed = resolve));
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
      res.write('x'.repeat(100));
      res.on('close', () => closed(res.writableFinished));
    });
    // Generous for the head; the silence after it is the upstream's own, until the gateway gives up.
    const app = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 1_000 } });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let raw: string;
    try {
      raw = await rawRequest(app.port, 'GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    } finally {
      logged.mockRestore();
    }
    expect(parseHead(raw).status).toBe(200);
    expect(raw).not.toContain('x'.repeat(1000));
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    expect(await upstreamClosed).toBe(false);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('keeps a slow upload of unknown length going past requestTimeout while its bytes flow', async () => {
    const upstream = await upstreamWith((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    });
    const app = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 1_000 } });
    const reply = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: app.port, path: '/sales/upload', method: 'POST', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      // Chunked, eight pieces 250 ms apart: the upload outlasts requestTimeout, its pauses are a
      // quarter of it (and the upstream timeout must not count them at all).
      let sent = 0;
      const next = (): void => {
        if (sent++ === 8) {
          req.end();
          return;
        }
        req.write(Buffer.alloc(1000));
        setTimeout(next, 250);
      };
      next();
    });
    expect(JSON.parse(reply)).toEqual({ bytes: 8000 });
    expect(outcomes).toEqual([{ status: 200 }]);
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the upstream request when the client hangs up before the response', async () => {
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let upstreamAborted!: (finished: boolean) => void;
    const aborted = new Promise<boolean>((resolve) => (upstreamAborted = resolve));
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.on('close', () => upstreamAborted(res.writableFinished));
      arrived();
    });
    const app = await gatewayTo(upstream.origin);
    const client = request({ host: '127.0.0.1', port: app.port, path: '/sales/ping', agent: false });
    client.on('error', () => undefined);
    client.end();
    await arrival;
    client.destroy();
    expect(await aborted).toBe(false);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the upstream response when the client hangs up mid-body, and settles client_closed', async () => {
    let upstreamClosed!: (finished: boolean) => void;
    const closed = new Promise<boolean>((resolve) => (upstreamClosed = resolve));
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024, 'a'));
      res.on('close', () => upstreamClosed(res.writableFinished));
    });
    const app = await gatewayTo(upstream.origin);
    await new Promise<void>((resolve) => {
      const client = request({ host: '127.0.0.1', port: app.port, path: '/sales/stream', agent: false }, (res) => {
        res.once('data', () => {
          client.destroy();
          resolve();
        });
      });
      client.on('error', () => undefined);
      client.end();
    });
    expect(await closed).toBe(false);
    await eventually('settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('answers 413 on a checked route for a declared body over the limit, and for a chunked one cut at the limit', async () => {
    const upstream = await upstreamWith();
    const app = await gatewayTo(upstream.origin, { bodyLimit: 1024 });
    const body = JSON.stringify({ sku: 'x'.repeat(4096) });
    const declared = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(declared.status).toBe(413);
    expect(declared.text).toMatch(/^payload_too_large: /);
    const chunked = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body });
    expect(chunked.status).toBe(413);
    const fine = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku":"a"}' });
    expect(fine.json<Echo>()).toMatchObject({ body: '{"sku":"a"}', headers: { 'content-length': '11' } });
    expect(upstream.seen).toHaveLength(1);
    await expectNothingLeaked(app, upstream);
  });

  it('forwards a body an earlier handler read with c.req.json(), with a matching Content-Length', async () => {
    const upstream = await upstreamWith();
    const app = await gatewayTo(upstream.origin, {}, (hono) => {
      hono.use('/sales/*', async (c, next) => {
        if (c.req.header('content-type') === 'application/json') await c.req.json();
        await next();
      });
    });
    const plain = (await send(app.port, '/sales/upload', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'abc' })).json<Echo>();
    expect(plain).toMatchObject({ body: 'abc', headers: { 'content-length': '3' } });
    const passthrough = (await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku": "Ä"}' })).json<Echo>();
    expect(JSON.parse(passthrough.body)).toEqual({ sku: 'Ä' });
    expect(passthrough.headers['content-length']).toBe(String(Buffer.byteLength(passthrough.body)));
    const checked = (await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sku": "B"}' })).json<Echo>();
    expect(JSON.parse(checked.body)).toEqual({ sku: 'B' });
    expect(checked.headers['content-length']).toBe(String(Buffer.byteLength(checked.body)));
    await expectNothingLeaked(app, upstream);
  });

  it("sends a GET's declared body nowhere: the upstream gets neither its bytes nor its Content-Length", async () => {
    // fetch sends no body with a GET, so a Content-Length kept would announce bytes that never come.
    const upstream = await upstreamWith();
    const app = await gatewayTo(upstream.origin);
    const reply = await send(app.port, '/sales/ping', { headers: { 'content-type': 'text/plain', 'content-length': '5' }, body: 'hello' });
    expect(reply.status).toBe(200);
    expect(reply.json<Echo>()).toMatchObject({ body: '' });
    expect(reply.json<Echo>().headers['content-length']).toBeUndefined();
    expect((await send(app.port, '/sales/ping')).json<Echo>().url).toBe('/ping');
    await expectNothingLeaked(app, upstream);
  });

  it("proxies a GET without building @hono/node-server's full Request behind its lightweight one", async () => {
    // Reading `body` (or any field but method, url and headers) makes node-server construct a real
    // Request: about 4 % of a proxied tiny GET's instructions. Its cache is an own symbol property.
    const built: boolean[] = [];
    const upstream = await upstreamWith();
    const app = await gatewayTo(upstream.origin, {}, (hono) => {
      hono.use('/sales/*', async (c, next) => {
        await next();
        built.push(Object.getOwnPropertySymbols(c.req.raw).some((symbol) => symbol.description === 'requestCache'));
      });
    });
    expect((await send(app.port, '/sales/ping')).json<Echo>().url).toBe('/ping');
    expect(built).toEqual([false]);
    await expectNothingLeaked(app, upstream);
  });

  describe('matching the raw request target (c.env.incoming.url), not the parsed URL', () => {
    /** Sends one raw request line (curl --path-as-is), the connection closed after it. */
    const raw = async (app: HonoServer, method: string, target: string) => parseHead(await rawRequest(app.port, `${method} ${target} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n`));

    it('does not let `/aux/%2e%2e/sales/ping` reach the sales service, for HEAD (curl -sI --path-as-is) and GET', async () => {
      const upstream = await upstreamWith();
      const app = await gatewayTo(upstream.origin);
      for (const method of ['HEAD', 'GET']) {
        for (const target of ['/aux/%2e%2e/sales/ping', '/aux/%2E%2e/sales/ping', '/aux/../sales/ping', '/aux/.%2e/sales/ping']) {
          const reply = await raw(app, method, target);
          // Not a gateway path as sent: the app answers, and Hono's 404 is not a gateway error.
          expect([method, target, reply.status, reply.headers['content-type']]).toEqual([method, target, 404, 'text/plain; charset=UTF-8']);
        }
      }
      expect(upstream.seen).toEqual([]);
      await expectNothingLeaked(app, upstream);
    });

    it('answers `HEAD /sales/item/%2e%2e/review` with 400 invalid_path, as GET, and calls no upstream', async () => {
      const upstream = await upstreamWith();
      const app = await gatewayTo(upstream.origin);
      for (const param of ['%2e%2e', '%2E%2e', '..', '.', '%2e', '.%2e', 'a%2Fb', 'a%5Cb']) {
        const head = await raw(app, 'HEAD', `/sales/item/${param}/review`);
        // A HEAD has no body to carry the code: the status and the gateway renderer's content type say it.
        expect([param, head.status, head.headers['content-type'], head.body]).toEqual([param, 400, 'text/plain; charset=utf-8', '']);
        const get = await raw(app, 'GET', `/sales/item/${param}/review`);
        expect([param, get.status, get.body]).toEqual([param, 400, 'invalid_path: The request path is not allowed.\n']);
      }
      expect(upstream.seen).toEqual([]);
      expect(outcomes).toEqual([]);
      await expectNothingLeaked(app, upstream);
    });

    it('matches a `.` segment as sent: no gateway route, so the app answers and no upstream is called', async () => {
      const upstream = await upstreamWith();
      const app = await gatewayTo(upstream.origin);
      for (const method of ['GET', 'HEAD']) {
        for (const target of ['/sales/./ping', '/sales/%2e/ping', '/sales/ping/.']) expect([method, target, (await raw(app, method, target)).status]).toEqual([method, target, 404]);
      }
      expect(upstream.seen).toEqual([]);
      await expectNothingLeaked(app, upstream);
    });

    it('refuses, rather than routes, a request whose URL an app rewrote from a raw target with dot segments', async () => {
      const upstream = await upstreamWith();
      const inner = edgeApp(salesGateway(upstream.origin, outcomes));
      // app.mount() strips its prefix from the parsed URL: the raw target no longer yields the Request's URL.
      const outer = new Hono();
      outer.mount('/gw', inner.fetch);
      outer.get('/own', (c) => c.text('own route'));
      const app = await serveHono(outer.fetch as never);
      opened.push(app);
      expect(JSON.parse((await raw(app, 'GET', '/gw/sales/ping?a=1')).body)).toMatchObject({ url: '/ping?a=1' });
      const escaped = await raw(app, 'GET', '/gw/aux/%2e%2e/sales/ping');
      expect([escaped.status, escaped.body]).toEqual([400, 'invalid_path: The request path is not allowed.\n']);
      expect((await raw(app, 'HEAD', '/gw/aux/../sales/ping')).status).toBe(400);
      // What URL parsing made of it is not a gateway path: the app decides, as for any other path.
      expect((await raw(app, 'GET', '/gw/sales/%2e%2e/own')).body).toBe('own route');
      expect(upstream.seen.map((seen) => seen.url)).toEqual(['/ping?a=1']);
      await expectNothingLeaked(app, upstream);
    });
  });
});
