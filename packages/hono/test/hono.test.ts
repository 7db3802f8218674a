import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { serve } from '@hono/node-server';
import { createGateway, get, service, type Gateway } from '@apigate/core';
import { Hono } from 'hono';
import { honoGateway as edgeGateway } from '../src/index.ts';
import { honoGateway } from '../src/node/index.ts';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe('honoGateway', () => {
  let upstream: Server;
  let gateway: Gateway;

  beforeAll(async () => {
    upstream = createServer((req, res) => res.end(JSON.stringify({ url: req.url })));
    const origin = await listen(upstream);
    gateway = createGateway().mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping')]), [origin]).build();
  });

  afterAll(async () => {
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('serves gateway routes on @hono/node-server from the raw Node request, beside the app routes', async () => {
    const app = new Hono();
    const middleware = honoGateway(gateway);
    app.use(middleware);
    app.get('/own', (c) => c.text('own route'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await (await fetch(`${base}/sales/ping`)).json()).toEqual({ url: '/ping' });
      expect(await (await fetch(`${base}/own`)).text()).toBe('own route');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      middleware.transport.close();
    }
  });

  it('serves gateway routes through the fetch transport where there is no Node request', async () => {
    const app = new Hono();
    app.use(edgeGateway(gateway));
    app.get('/own', (c) => c.text('own route'));
    expect(await (await app.request('/sales/ping?q=1')).json()).toEqual({ url: '/ping?q=1' });
    expect(await (await app.request('/own')).text()).toBe('own route');
    expect((await app.request('/nope')).status).toBe(404);
  });
});
