import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import { Hono } from 'hono';
import { honoGateway as fetchGateway, honoMiddleware } from '../src/index.ts';
import { honoGateway } from '../src/node/index.ts';
import { echo, send, serveHono, startUpstream, type Upstream } from './helpers.ts';

/**
 * Sends what the middleware sees of the platform upstream: the env's keys, and whether waitUntil
 * work ran. @hono/node-server's `c.env` holds the Node request and response (`incoming`,
 * `outgoing`): neutral middleware must never see them.
 */
const envProbe = (ran: string[]): Middleware => ({
  name: 'env-probe',
  request: (ctx) => {
    ctx.headers.set('x-env-keys', Object.keys(ctx.platform.env).join(',') || 'none');
    ctx.platform.waitUntil(Promise.resolve().then(() => void ran.push(ctx.path)));
  },
});

type Seen = { headers: Record<string, string> };

describe('the platform on @hono/node-server', () => {
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
  });

  afterAll(async () => {
    await upstream.close();
  });

  /** Where the gateway reports failures: none when Hono's executionCtx getter, which throws on Node, is never read blindly. */
  const failures: string[] = [];
  const gatewayWith = (ran: string[]) =>
    createGateway({ observer: { callbackFailed: (failure) => void failures.push(failure.callback) } }).mount(service({ prefix: '/sales' }, [get('/ping', { use: [envProbe(ran)] })]), [upstream.origin]).build();

  it("shows the Node gateway's env option, never c.env, and keeps waitUntil work where there is no executionCtx", async () => {
    const ran: string[] = [];
    const gateway = gatewayWith(ran);
    const given = honoGateway(gateway, { env: { REGION: 'eu' } });
    const plain = honoGateway(gatewayWith(ran));
    const app = new Hono();
    app.use(async (c, next) => (c.req.header('x-given') === undefined ? plain(c, next) : given(c, next)));
    const server = await serveHono(app.fetch as never, () => {
      given.transport.close();
      plain.transport.close();
    });
    try {
      const withEnv = (await send(server.port, '/sales/ping', { headers: { 'x-given': '1' } })).json<Seen>().headers;
      const without = (await send(server.port, '/sales/ping')).json<Seen>().headers;
      expect([withEnv['x-env-keys'], without['x-env-keys']]).toEqual(['REGION', 'none']);
      await gateway.close();
      expect([ran, failures]).toEqual([['/sales/ping', '/sales/ping'], []]);
    } finally {
      await server.close();
    }
  });

  it("shows the fetch gateway an empty env on Node (c.env is the Node request there), and a given env function's value", async () => {
    const ran: string[] = [];
    const app = new Hono();
    const plain = fetchGateway(gatewayWith(ran));
    const given = fetchGateway(gatewayWith(ran), { env: () => ({ KV: 'bound' }) });
    app.use(async (c, next) => (c.req.header('x-given') === undefined ? plain(c, next) : given(c, next)));
    const server = await serveHono(app.fetch as never);
    try {
      const without = (await send(server.port, '/sales/ping')).json<Seen>().headers;
      const withEnv = (await send(server.port, '/sales/ping', { headers: { 'x-given': '1' } })).json<Seen>().headers;
      expect([without['x-env-keys'], withEnv['x-env-keys']]).toEqual(['none', 'KV']);
      expect(failures).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('keeps waitUntil work where Hono has no execution context to give (app.request()), and leaves Error.stackTraceLimit as it was', async () => {
    const ran: string[] = [];
    const gateway = gatewayWith(ran);
    const app = new Hono();
    app.use(fetchGateway(gateway));
    // Reading waitUntil lowers Error.stackTraceLimit around Hono's getter, which throws here: never for longer.
    const stackTraceLimit = Error.stackTraceLimit;
    const response = await app.request('/sales/ping');
    expect(response.status).toBe(200);
    expect(((await response.json()) as Seen).headers['x-env-keys']).toBe('none');
    expect(Error.stackTraceLimit).toBe(stackTraceLimit);
    await gateway.close();
    expect([ran, failures]).toEqual([['/sales/ping'], []]);
  });

  it('shows honoMiddleware an empty env on Node, and the env option when given', async () => {
    const seen: string[] = [];
    const probe: Middleware = { name: 'probe', request: (ctx) => void seen.push(Object.keys(ctx.platform.env).join(',') || 'none') };
    const app = new Hono();
    app.use('/plain/*', honoMiddleware(probe));
    app.use('/given/*', honoMiddleware(probe, { env: () => ({ REGION: 'eu' }) }));
    app.get('*', (c) => c.text('app'));
    const server = await serveHono(app.fetch as never);
    try {
      expect((await send(server.port, '/plain/x')).text).toBe('app');
      expect((await send(server.port, '/given/x')).text).toBe('app');
      expect(seen).toEqual(['none', 'REGION']);
    } finally {
      await server.close();
    }
  });
});
