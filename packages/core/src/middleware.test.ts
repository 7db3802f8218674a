import { GatewayError, json, respond, unauthorized } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, run, testIO } from './test-utils/index.ts';
import { createGateway, defineRoutes, get, service, type Env, type Middleware, type Observer, type SettleEvent } from './index.ts';
import { RecordHeaders } from './middleware.ts';

const backendUrl = 'http://127.0.0.1:9';

/** A middleware that records each phase it runs in `log`, and marks the response with its name. */
const tracer = (name: string, log: string[]): Middleware => ({
  name,
  request: (ctx) => {
    log.push(`${name}.request`);
    ctx.headers.set('x-order', `${ctx.headers.get('x-order') ?? ''}${name}`);
  },
  upstream: (ctx) => void log.push(`${name}.upstream ${ctx.backend.origin} #${ctx.attempt}`),
  response: (ctx) => {
    log.push(`${name}.response ${ctx.status}`);
    ctx.headers.append('x-onion', name);
  },
  settle: (event) => void log.push(`${name}.settle ${event.status ?? event.error?.code}`),
});

const settled = (events: SettleEvent[]): Middleware => ({ name: 'settled', settle: (event) => void events.push(event) });

describe('middleware', () => {
  it('runs request and upstream phases gateway → service → route and response phases back, onion order', async () => {
    const log: string[] = [];
    const gateway = createGateway({ use: [tracer('g', log)] })
      .mount(service({ name: 's', prefix: '/s', use: [tracer('s', log)] }, [get('/x', { use: [tracer('r', log)] })]), [backendUrl])
      .build();
    const io = testIO();
    const plan = asForward(await run(gateway, 'GET /s/x', io));
    expect(io.headers.record['x-order']).toBe('gsr');
    const headers: Record<string, string | readonly string[]> = {};
    expect(plan.intercepts).toBe(true);
    plan.respond(200, new RecordHeaders(headers));
    plan.settle({ status: 200 });
    expect(headers['x-onion']).toEqual(['r', 's', 'g']);
    expect(log).toEqual([
      'g.request', 's.request', 'r.request',
      `g.upstream ${backendUrl} #1`, `s.upstream ${backendUrl} #1`, `r.upstream ${backendUrl} #1`,
      'r.response 200', 's.response 200', 'g.response 200',
      'r.settle 200', 's.settle 200', 'g.settle 200',
    ]);
  });

  it("passes a middleware's own answer through it and the ones outside it only", async () => {
    const log: string[] = [];
    const refuse: Middleware = { name: 'auth', request: () => unauthorized(), response: (ctx) => ctx.headers.set('www-authenticate', 'Bearer') };
    const gateway = createGateway({ use: [tracer('g', log), refuse, tracer('inner', log)] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const plan = asRespond(await run(gateway, 'GET /s/x'));
    expect(plan.response.status).toBe(401);
    expect(plan.response.headers['www-authenticate']).toBe('Bearer');
    expect(plan.response.headers['x-onion']).toBe('g');
    expect(log).toEqual(['g.request', 'g.response 401', 'g.settle 401']);
  });

  it('adds response headers to every gateway-made answer: a hook response, an error, 405 and OPTIONS', async () => {
    const stamp: Middleware = { name: 'stamp', response: (ctx) => ctx.headers.set('x-gateway', ctx.gatewayMade ? `made ${ctx.error?.code ?? ctx.status}` : 'proxied') };
    const gateway = createGateway({ use: [stamp] })
      .mount(service({ prefix: '/s' }, [get('/hook', { before: () => json(202, { ok: true }) }), get('/item/{id}', { before: () => new GatewayError('forbidden') })]), [backendUrl])
      .build();
    const header = async (method: string, url: string) => asRespond(await run(gateway, `${method} ${url}`)).response.headers['x-gateway'];
    expect(await header('GET', '/s/hook')).toBe('made 202');
    expect(await header('GET', '/s/item/1')).toBe('made forbidden');
    expect(await header('GET', '/s/item/..')).toBe('made invalid_path');
    expect(await header('POST', '/s/hook')).toBe('made method_not_allowed');
    expect(await header('OPTIONS', '/s/hook')).toBe('made 204');
  });

  it('renders a transport failure through the response phases', async () => {
    const stamp: Middleware = { name: 'stamp', response: (ctx) => ctx.headers.set('x-gateway', `${ctx.status} ${ctx.error?.code}`) };
    const gateway = createGateway({ use: [stamp] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const plan = asForward(await run(gateway, 'GET /s/x'));
    expect(plan.render(new GatewayError('upstream_timeout')).headers['x-gateway']).toBe('504 upstream_timeout');
  });

  it('settles exactly once for each ending: ok, an upstream failure, a refusal, a hook response, 405', async () => {
    const events: SettleEvent[] = [];
    const gateway = createGateway({ use: [settled(events)] })
      .mount(service({ prefix: '/s' }, [get('/x'), get('/deny', { before: () => unauthorized() }), get('/answer', { before: () => respond(204) })]), [backendUrl])
      .build();
    const ok = asForward(await run(gateway, 'GET /s/x'));
    ok.settle({ status: 200 });
    ok.settle({ error: new GatewayError('client_closed') });
    const failed = asForward(await run(gateway, 'GET /s/x'));
    failed.settle({ error: new GatewayError('upstream_reset') });
    await run(gateway, 'GET /s/deny');
    await run(gateway, 'GET /s/answer');
    await run(gateway, 'DELETE /s/x');
    expect(events.map((e) => [e.route?.path, e.status, e.error?.code, e.backend?.origin])).toEqual([
      ['/s/x', 200, undefined, backendUrl],
      ['/s/x', undefined, 'upstream_reset', backendUrl],
      ['/s/deny', 401, 'unauthorized', undefined],
      ['/s/answer', 204, undefined, undefined],
      [undefined, 405, 'method_not_allowed', undefined],
    ]);
  });

  it('lets response and settle read what the request phase put in scope', async () => {
    const seen: unknown[] = [];
    const tag: Middleware = {
      name: 'tag',
      request: (ctx) => ctx.set('tier', 'pro'),
      response: (ctx) => ctx.headers.set('x-tier', String(ctx.get('tier'))),
      settle: (event) => void seen.push(event.get('tier')),
    };
    const gateway = createGateway({ use: [tag] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const plan = asForward(await run(gateway, 'GET /s/x'));
    const headers: Record<string, string | readonly string[]> = {};
    plan.respond(200, new RecordHeaders(headers));
    plan.settle({ status: 200 });
    expect([headers['x-tier'], seen]).toEqual(['pro', ['pro']]);
  });

  it('keeps a route without middleware, hooks or parameters on the synchronous passthrough, and one with only response phases too', () => {
    const header: Middleware = { name: 'header', response: (ctx) => ctx.headers.set('x-a', '1') };
    const gateway = createGateway().mount(service({ prefix: '/s' }, [get('/plain'), get('/headed', { use: [header] })]), [backendUrl]).build();
    const plain = gateway.handle(gateway.match('GET', '/s/plain')!, testIO());
    const headed = gateway.handle(gateway.match('GET', '/s/headed')!, testIO());
    expect([plain instanceof Promise, headed instanceof Promise]).toEqual([false, false]);
    expect([(plain as { intercepts: boolean }).intercepts, (headed as { intercepts: boolean }).intercepts]).toEqual([false, true]);
  });

  it('reports a phase that throws and goes on', async () => {
    const failures: string[] = [];
    const observer: Observer = { callbackFailed: (failure) => void failures.push(failure.callback) };
    const broken: Middleware = {
      name: 'broken',
      upstream: () => { throw new Error('upstream'); },
      response: () => { throw new Error('response'); },
      settle: () => { throw new Error('settle'); },
    };
    const gateway = createGateway({ observer, use: [broken] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const plan = asForward(await run(gateway, 'GET /s/x'));
    plan.respond(200, new RecordHeaders({}));
    plan.settle({ status: 200 });
    expect(failures).toEqual(['broken.upstream', 'broken.response', 'broken.settle']);
  });

  it('closes every middleware once, however often close() is called', async () => {
    let closed = 0;
    const owner: Middleware = { name: 'owner', close: () => void closed++ };
    const gateway = createGateway({ use: [owner] }).mount(service({ prefix: '/s', use: [owner] }, [get('/x', { use: [owner] })]), [backendUrl]).build();
    await Promise.all([gateway.close(), gateway.close()]);
    await gateway.close();
    expect(closed).toBe(1);
  });

  it('lists what each middleware declares in gateway.routes()', () => {
    const bearer: Middleware = { name: 'jwt', describe: { security: 'bearer' } };
    const gateway = createGateway({ use: [bearer] }).mount(service({ prefix: '/s' }, [get('/x', { use: [{ name: 'limit', describe: { limit: '100/min' } }] })]), [backendUrl]).build();
    expect(gateway.routes()[0]!.middleware).toEqual([
      { name: 'jwt', describe: { security: 'bearer' } },
      { name: 'limit', describe: { limit: '100/min' } },
    ]);
  });

  it('refuses a gateway middleware without a name at build()', () => {
    expect(() => createGateway({ use: [{} as Middleware] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build()).toThrow(/use\[0\].*non-empty name/s);
  });
});

describe('service() with routes made by a callback', () => {
  /** Refuses a request without `x-sub`; puts the subject in scope otherwise. */
  const auth = (): Middleware<Env, { claims: { sub: string } }> => ({
    name: 'auth',
    request: (ctx) => {
      const sub = ctx.headers.get('x-sub');
      if (sub === undefined) return unauthorized();
      ctx.set('claims', { sub });
    },
  });

  it("builds its routes with core's builders, runs the service's middleware before their hooks and routes requests", async () => {
    const me = service({ name: 'me', prefix: '/me', use: [auth()] }, ({ get, post }) => [
      get('/{id}', { before: (ctx) => void ctx.headers.set('x-user', `${ctx.get('claims')?.sub}:${ctx.params.id}`) }),
      post('/orders', { to: '/create' }),
    ]);
    const gateway = createGateway().mount(me, [backendUrl]).build();
    const io = testIO({ 'x-sub': 'alice' });
    expect(asForward(await run(gateway, 'GET /me/7', io)).uri).toBe('/7');
    expect(io.headers.record['x-user']).toBe('alice:7');
    expect(asForward(await run(gateway, 'POST /me/orders', testIO({ 'x-sub': 'bob' }))).uri).toBe('/create');
    const refused = asRespond(await run(gateway, 'GET /me/7'));
    expect([refused.response.status, refused.error?.code]).toEqual([401, 'unauthorized']);
    expect(gateway.routes().map((route) => [route.method, route.path, route.service, route.middleware.map((m) => m.name)])).toEqual([
      ['GET', '/me/{id}', 'me', ['auth']],
      ['POST', '/me/orders', 'me', ['auth']],
    ]);
  });

  it('hands the callback the builders it is given, whose hooks see the app state', async () => {
    const app = defineRoutes<{ state: { greeting: string } }>();
    let given: unknown;
    const hello = service({ prefix: '/hello', use: [auth()] }, app, (builders) => {
      given = builders;
      return [builders.get('/', { before: (ctx) => void ctx.headers.set('x-greeting', `${ctx.state.greeting} ${ctx.get('claims')?.sub}`) })];
    });
    expect(given).toBe(app);
    const gateway = createGateway({ state: { greeting: 'hi' } }).mount(hello, [backendUrl]).build();
    const io = testIO({ 'x-sub': 'carol' });
    expect(asForward(await run(gateway, 'GET /hello/', io)).uri).toBe('/');
    expect(io.headers.record['x-greeting']).toBe('hi carol');
  });
});
