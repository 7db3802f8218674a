import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { createGateway, get, post, service, type Gateway, type GatewayOptions } from '@apigate/core';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { honoMiddleware } from '../src/index.ts';
import { NodeTransport, type NodeTransportLike } from '@apigate/proxy/node';
import { honoGateway } from '../src/node/index.ts';
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
  streamUpload,
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
        get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
        post('/orders'),
        post('/upload'),
        { ...post('/checked'), input: checkedJson((value) => typeof (value as { sku?: unknown }).sku === 'string') },
      ]),
      [origin],
    )
    .build();

/** Whether @hono/node-server made a real Web Request behind its lightweight one. */
const madeWebRequest = (raw: Request): boolean => Object.getOwnPropertySymbols(raw).some((symbol) => symbol.description === 'requestCache');

interface Probe {
  readonly path: string;
  /** Right after the handlers returned. */
  readonly afterHandlers: boolean;
  /** Once the response was completely written. */
  readonly afterFinish: boolean;
  readonly alreadySent: boolean;
}

interface HonoNodeApp extends HonoServer {
  readonly middleware: ReturnType<typeof honoGateway<NodeTransportLike>>;
  readonly probes: Probe[];
}

/**
 * A Hono app on @hono/node-server: an outer probe middleware, optional middleware, the gateway,
 * then app routes (one that reads `c.req.raw.body`: the control for the probe).
 */
const startHonoNode = async (
  gateway: Gateway,
  before: ((app: Hono<{ Bindings: HttpBindings }>) => void) | undefined = undefined,
  transport: 'node' | 'undici' = 'undici',
): Promise<HonoNodeApp> => {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const probes: Probe[] = [];
  app.use(async (c, next) => {
    await next();
    const afterHandlers = madeWebRequest(c.req.raw);
    // A HEAD gets a copy of RESPONSE_ALREADY_SENT (see src/node/index.ts): the same headers.
    const alreadySent = c.res === RESPONSE_ALREADY_SENT || (c.req.method === 'HEAD' && [...RESPONSE_ALREADY_SENT.headers].every(([name, value]) => c.res.headers.get(name) === value));
    const outgoing: ServerResponse = c.env.outgoing;
    const record = (): void => {
      probes.push({ path: c.req.path, afterHandlers, afterFinish: madeWebRequest(c.req.raw), alreadySent });
    };
    if (outgoing.writableFinished || outgoing.destroyed) record();
    else outgoing.once('close', record);
  });
  before?.(app);
  const middleware = honoGateway(gateway, { transport: transport === 'node' ? new NodeTransport(gateway.upstream) : (undefined as NodeTransportLike | undefined) });
  app.use(middleware);
  app.get('/own', (c) => c.text('own route'));
  app.post('/own/read-body', async (c) => {
    const reader = c.req.raw.body?.getReader();
    let bytes = 0;
    for (;;) {
      const chunk = await reader?.read();
      if (chunk === undefined || chunk.done) break;
      bytes += chunk.value.byteLength;
    }
    return c.json({ bytes });
  });
  const server = await serveHono(app.fetch as never, () => middleware.transport.close());
  return { ...server, middleware, probes };
};

describe('honoGateway (node) beside the app', () => {
  let upstream: Upstream;
  let app: HonoNodeApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    app = await startHonoNode(salesGateway(upstream.origin));
  });

  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  beforeEach(() => {
    app.probes.length = 0;
  });

  it('serves gateway routes and leaves the app its own routes', async () => {
    expect((await send(app.port, '/sales/ping?x=1')).json<Echo>().url).toBe('/ping?x=1');
    expect((await send(app.port, '/sales/item/7/review')).json<Echo>().url).toBe('/api/v2/reviews/7');
    expect((await send(app.port, '/own')).text).toBe('own route');
    expect((await send(app.port, '/nope')).status).toBe(404);
    const refused = await send(app.port, '/sales/ping', { method: 'DELETE' });
    expect(refused.status).toBe(405);
    expect(refused.headers.allow).toBe('GET, HEAD, OPTIONS');
  });

  it('makes no Web Request and no Response for a passthrough route (and the probe sees one when a route reads c.req.raw.body)', async () => {
    await send(app.port, '/sales/ping');
    const body = 'x'.repeat(100_000);
    expect((await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body })).json<Echo>().bytes).toBe(100_000);
    expect((await send(app.port, '/own/read-body', { method: 'POST', body })).json()).toEqual({ bytes: 100_000 });
    await eventually('every probe recorded', () => app.probes.length === 3);
    expect(app.probes).toEqual([
      { path: '/sales/ping', afterHandlers: false, afterFinish: false, alreadySent: true },
      { path: '/sales/orders', afterHandlers: false, afterFinish: false, alreadySent: true },
      { path: '/own/read-body', afterHandlers: true, afterFinish: true, alreadySent: false },
    ]);
  });

  it('answers HEAD on a GET route with the upstream status and headers and no body, without crashing', async () => {
    const reply = await send(app.port, '/sales/ping', { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.text).toBe("");
    expect((await send(app.port, '/sales/ping')).status).toBe(200);
  });

  it('serves HEAD through the Node bridge: the upstream gets HEAD, the client only the head, and the connection stays usable', async () => {
    const before = upstream.seen.length;
    // Two requests on one connection: the GET is answered only if the HEAD's response ended cleanly
    // and nothing else was written on the socket after it.
    const raw = await rawRequest(
      app.port,
      'HEAD /sales/item/7/review HTTP/1.1\r\nHost: gateway.test\r\n\r\nGET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n',
    );
    const head = parseHead(raw);
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/json');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    // No body: the next bytes on the socket are the second response's status line.
    expect(head.body.startsWith('HTTP/1.1 200 ')).toBe(true);
    const second = parseHead(head.body);
    expect(JSON.parse(second.body)).toMatchObject({ method: 'GET', url: '/ping' });
    expect(raw.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(2);
    expect(upstream.seen.slice(before).map((seen) => `${seen.method} ${seen.url}`)).toEqual(['HEAD /api/v2/reviews/7', 'GET /ping']);
    await eventually('every probe recorded', () => app.probes.length === 2);
    // No Web Request was made for the HEAD, and @hono/node-server was told the response was sent.
    expect(app.probes[0]).toEqual({ path: '/sales/item/7/review', afterHandlers: false, afterFinish: false, alreadySent: true });
  });

  it('streams a passthrough upload to the upstream', async () => {
    const total = 16 * 1024 * 1024 + 5;
    const reply = await streamUpload(app.port, '/sales/upload', total);
    expect(reply.json<Echo>().bytes).toBe(total);
  });

  it('reads the body of a checked route from the Node stream and forwards the same bytes', async () => {
    const body = '{"sku": "Ä"}';
    const reply = await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.json<Echo>()).toMatchObject({ body, headers: { 'content-length': String(Buffer.byteLength(body)) } });
    expect((await send(app.port, '/sales/checked', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(422);
  });
});

describe('honoGateway (node) after a handler that read the body', () => {
  let upstream: Upstream;
  let app: HonoNodeApp;
  const parsed: unknown[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    app = await startHonoNode(salesGateway(upstream.origin), (hono) => {
      hono.use('/sales/orders', async (c, next) => {
        const type = c.req.header('content-type') ?? '';
        if (type.startsWith('application/json')) parsed.push(await c.req.json());
        else if (type.startsWith('text/')) parsed.push(await c.req.text());
        else if (type.startsWith('application/x-www-form-urlencoded')) parsed.push(await c.req.parseBody());
        await next();
      });
    });
  });

  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  it('forwards a body read with c.req.json() re-serialized, with a matching Content-Length', async () => {
    const reply = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{ "sku": "Ä-1", "qty": [1, 2] }' });
    const seen = reply.json<Echo>();
    expect(parsed.at(-1)).toEqual({ sku: 'Ä-1', qty: [1, 2] });
    expect(JSON.parse(seen.body)).toEqual({ sku: 'Ä-1', qty: [1, 2] });
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(seen.body)));
  });

  it('forwards a body read with c.req.text() byte for byte', async () => {
    const body = 'plain text ✓ with  spaces';
    const seen = (await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body })).json<Echo>();
    expect(seen.body).toBe(body);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  });

  it('forwards a form read with c.req.parseBody()', async () => {
    const seen = (await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=%C3%A4' })).json<Echo>();
    expect(new URLSearchParams(seen.body).get('b')).toBe('ä');
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(seen.body)));
  });
});

// The upstream faults and client aborts every adapter meets are conformance cases (apps/conformance),
// run on hono-node with their leak checks. Only HEAD stays here: the Node bridge answers it with a
// copy of RESPONSE_ALREADY_SENT, which is this adapter's own.
describe.each(['node', 'undici'] as const)('honoGateway (node) on the %s transport: upstream faults on HEAD', (transport) => {
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

  const upstreamWith = async (handler: UpstreamHandler): Promise<Upstream> => {
    const upstream = await startUpstream(handler);
    opened.push(upstream);
    return upstream;
  };

  const gatewayTo = async (origin: string, options: GatewayOptions<Record<string, never>> = {}): Promise<HonoNodeApp> => {
    const app = await startHonoNode(salesGateway(origin, outcomes, options), undefined, transport);
    opened.push(app);
    return app;
  };

  const expectNothingLeaked = async (app: HonoNodeApp, upstream?: Upstream): Promise<void> => {
    const pooled = (): { busy: number; idle: number } => app.middleware.transport.connections;
    await eventually('no upstream socket left in use', () => pooled().busy === 0);
    const idle = pooled().idle;
    if (upstream) await eventually('the upstream holds only pooled connections', async () => (await connectionsOf(upstream.server)) === idle);
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(app.server)) === 0);
    expect((await send(app.port, '/own')).text).toBe('own route');
    for (const resource of opened.reverse()) await resource.close();
    opened = [];
    await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
  };

  it('answers HEAD with 502 when the upstream refuses the connection', async () => {
    const app = await gatewayTo(refusedOrigin);
    const reply = await send(app.port, '/sales/ping', { method: 'HEAD' });
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.text).toBe("");
    expect(outcomes).toEqual([{ error: 'upstream_unreachable' }]);
    await expectNothingLeaked(app);
  });

  it('answers HEAD with 504 past requestTimeout, from the Node bridge, and leaks nothing', async () => {
    const upstream = await upstreamWith((req) => req.resume());
    const app = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 200 } });
    const reply = await send(app.port, '/sales/ping', { method: 'HEAD' });
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('');
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
    await expectNothingLeaked(app, upstream);
  });

});

describe('honoGateway (node) after honoMiddleware', () => {
  it('forwards the headers a hook set or removed as plain Hono middleware', async () => {
    const upstream = await startUpstream();
    const app = await startHonoNode(salesGateway(upstream.origin), (hono) => {
      hono.use(
        honoMiddleware((context) => {
          context.headers.set('x-request-id', 'req-1');
          context.headers.delete('x-internal-token');
          return undefined;
        }),
      );
    });
    try {
      const seen = (await send(app.port, '/sales/ping', { headers: { 'x-internal-token': 'secret' } })).json<Echo>();
      expect(seen.headers['x-request-id']).toBe('req-1');
      expect(seen.headers['x-internal-token']).toBeUndefined();
      await eventually('probe recorded', () => app.probes.length === 1);
      expect(app.probes[0]?.afterFinish).toBe(false);
    } finally {
      await app.close();
      await upstream.close();
    }
  });
});

describe('honoGateway (node) behind hono/body-limit', () => {
  it('forwards a passthrough body intact after bodyLimit() made a Web Request of it (by fetch)', async () => {
    const upstream = await startUpstream();
    const app = await startHonoNode(salesGateway(upstream.origin), (hono) => {
      hono.use(bodyLimit({ maxSize: 8 * 1024 * 1024 }));
    });
    try {
      const sized = (await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'a'.repeat(300_000) })).json<Echo>();
      expect(sized.bytes).toBe(300_000);
      expect(sized.headers['x-forwarded-for']).toBe('127.0.0.1');
      const chunked = (await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }, body: 'b'.repeat(300_000) })).json<Echo>();
      expect(chunked.bytes).toBe(300_000);
      const refused = await send(app.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'c'.repeat(9 * 1024 * 1024) });
      expect(refused.status).toBe(413);
    } finally {
      await app.close();
      await upstream.close();
    }
  });
});
