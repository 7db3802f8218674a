import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import { createGateway, get, post, service } from '@apigate/core';
import Koa from 'koa';
import { koaGateway } from '../src/index.ts';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe('koaGateway', () => {
  let upstream: Server;
  let app: Server;
  let base: string;
  let middleware: ReturnType<typeof koaGateway>;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => res.end(JSON.stringify({ url: req.url, length: req.headers['content-length'], body: Buffer.concat(chunks).toString() })));
    });
    const origin = await listen(upstream);
    const gateway = createGateway().mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping'), post('/orders')]), [origin]).build();
    const koa = new Koa();
    koa.use(bodyParser());
    middleware = koaGateway(gateway);
    koa.use(middleware);
    const router = new Router();
    router.get('/own', (ctx) => {
      ctx.body = 'own route';
    });
    koa.use(router.routes());
    app = createServer(koa.callback());
    base = await listen(app);
  });

  afterAll(async () => {
    await new Promise((resolve) => app.close(resolve));
    middleware.transport.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('proxies a gateway route and leaves the app its own routes', async () => {
    const proxied = await fetch(`${base}/sales/ping?x=1`);
    expect(proxied.status).toBe(200);
    expect(((await proxied.json()) as { url: string }).url).toBe('/ping?x=1');
    const own = await fetch(`${base}/own`);
    expect(await own.text()).toBe('own route');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('forwards the exact bytes a body parser in front of it read', async () => {
    const body = '{"sku":  "A-1"}';
    const reply = await fetch(`${base}/sales/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(await reply.json()).toEqual({ url: '/orders', length: String(body.length), body });
  });
});
