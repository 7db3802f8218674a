import { createServer, request, type Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Router from '@koa/router';
import { createGateway, get, post, service, type GatewayOptions } from '@apigate/core';
import Koa from 'koa';
import { koaGateway } from '../src/index.ts';
import {
  busySockets,
  closeServer,
  connectionsOf,
  eventually,
  freePort,
  listen,
  parseHead,
  rawRequest,
  send,
  startUpstream,
  tcpHandles,
  type Upstream,
  type UpstreamHandler,
} from './helpers.ts';

interface KoaApp {
  readonly server: Server;
  readonly port: number;
  readonly middleware: ReturnType<typeof koaGateway>;
  readonly close: () => Promise<void>;
}

type Outcome = { status: number } | { error: string };

describe('koaGateway: upstream faults', () => {
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

  const gatewayTo = async (origin: string, options: GatewayOptions<Record<string, never>> = {}): Promise<KoaApp> => {
    const gateway = createGateway({
      ...options,
      observer: {
        upstreamSucceeded: (event) => outcomes.push({ status: event.status }),
        upstreamFailed: (event) => outcomes.push({ error: event.error.code }),
      },
    })
      .mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping'), post('/upload')]), [origin])
      .build();
    const koa = new Koa();
    // Koa reports socket errors of aborted exchanges (on-finished) through 'error'; these tests cause them.
    koa.on('error', () => undefined);
    const middleware = koaGateway(gateway);
    koa.use(middleware);
    const router = new Router();
    router.get('/own', (ctx) => {
      ctx.body = 'own route';
    });
    koa.use(router.routes());
    const server = createServer(koa.callback());
    const port = await listen(server);
    const app: KoaApp = {
      server,
      port,
      middleware,
      close: async () => {
        await closeServer(server);
        middleware.transport.close();
      },
    };
    opened.push(app);
    return app;
  };

  /** No upstream socket in use, no client connection held, and no TCP handle left once closed. */
  const expectNothingLeaked = async (app: KoaApp, upstream?: Upstream): Promise<void> => {
    const agent = app.middleware.transport.httpAgent;
    await eventually('no upstream socket left in use', () => busySockets(agent) === 0);
    const idle = Object.values(agent.freeSockets).reduce((sum, list) => sum + (list?.length ?? 0), 0);
    if (upstream) await eventually('the upstream holds only pooled connections', async () => (await connectionsOf(upstream.server)) === idle);
    await eventually('the gateway holds no client connection', async () => (await connectionsOf(app.server)) === 0);
    expect((await send(app.port, '/own')).text).toBe('own route');
    for (const resource of opened.reverse()) await resource.close();
    opened = [];
    await eventually('no TCP handle left over', () => tcpHandles() <= baseline);
  };

  it('answers 502 upstream_unreachable when the upstream refuses the connection', async () => {
    const app = await gatewayTo(`http://127.0.0.1:${await freePort()}`);
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(reply.text).toBe('upstream_unreachable: The upstream could not be reached.\n');
    expect(outcomes).toEqual([{ error: 'upstream_unreachable' }]);
    await expectNothingLeaked(app);
  });

  it('answers 504 upstream_timeout past requestTimeout and aborts the upstream request', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.on('close', upstreamClosed);
    });
    const app = await gatewayTo(upstream.origin, { upstream: { requestTimeout: 200 } });
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('upstream_timeout: The upstream did not respond in time.\n');
    await closed;
    expect(outcomes).toEqual([{ error: 'upstream_timeout' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('answers 502 upstream_reset when the upstream closes the connection before responding', async () => {
    const upstream = await upstreamWith((req) => req.socket.destroy());
    const app = await gatewayTo(upstream.origin);
    const reply = await send(app.port, '/sales/ping');
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('upstream_reset: The upstream closed the connection before responding.\n');
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the client connection, without a second response, when the upstream dies mid-body', async () => {
    let cut!: () => void;
    const upstream = await upstreamWith((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 1000 });
      res.write('x'.repeat(100));
      cut = () => req.socket.destroy();
    });
    const app = await gatewayTo(upstream.origin);
    const raw = await rawRequest(app.port, 'GET /sales/ping HTTP/1.1\r\nHost: gateway.test\r\n\r\n', (received) => {
      if (received.includes('x'.repeat(100))) cut();
    });
    const { status, headers, body } = parseHead(raw);
    expect(status).toBe(200);
    expect(headers['content-length']).toBe('1000');
    expect(body).toBe('x'.repeat(100));
    expect(raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    await eventually('the request settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'upstream_reset' }]);
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
    await eventually('the request settled', () => outcomes.length === 1);
    expect(outcomes).toEqual([{ error: 'client_closed' }]);
    await expectNothingLeaked(app, upstream);
  });

  it('aborts the upstream request when the client hangs up while streaming its body', async () => {
    let received!: () => void;
    const someBytes = new Promise<void>((resolve) => (received = resolve));
    let upstreamClosed!: (complete: boolean) => void;
    const closed = new Promise<boolean>((resolve) => (upstreamClosed = resolve));
    const upstream = await upstreamWith((req) => {
      req.once('data', () => received());
      req.on('close', () => upstreamClosed(req.complete));
      req.resume();
    });
    const app = await gatewayTo(upstream.origin);
    const client = request({ host: '127.0.0.1', port: app.port, path: '/sales/upload', method: 'POST', agent: false, headers: { 'content-length': 1_000_000 } });
    client.on('error', () => undefined);
    client.write(Buffer.alloc(1000));
    await someBytes;
    client.destroy();
    expect(await closed).toBe(false);
    await expectNothingLeaked(app, upstream);
  });
});
