import { GatewayError, respond, unauthorized } from '@apigate/errors';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { asForward, asRespond, run } from './test-utils/index.ts';
import { createGateway, get, loggingObserver, service, type Observer, type Policy } from './index.ts';

type Event = { name: keyof Observer; event: Record<string, unknown> };

const recorder = (): { observer: Required<Observer>; events: Event[] } => {
  const events: Event[] = [];
  const record =
    (name: keyof Observer) =>
    (event: object): void =>
      void events.push({ name, event: { ...event } });
  return {
    events,
    observer: {
      requestStart: record('requestStart'),
      backendSelected: record('backendSelected'),
      pipelineFailed: record('pipelineFailed'),
      dispatchFailed: record('dispatchFailed'),
      upstreamSucceeded: record('upstreamSucceeded'),
      upstreamFailed: record('upstreamFailed'),
      requestEnd: record('requestEnd'),
      callbackFailed: record('callbackFailed'),
    },
  };
};

const none: Policy = { name: 'none', create: () => ({ pick: () => undefined }) };
const backendUrl = 'http://127.0.0.1:9/base';
const routes = service({ name: 'shop', prefix: '/shop' }, [
  get('/ping'),
  get('/item/{id}', { to: '/items/{id}' }),
  get('/private', { before: () => unauthorized() }),
  get('/broken', { before: () => { throw new Error('boom'); } }),
  get('/empty', { policy: 'none' }),
]);
const build = (observer?: Observer) => createGateway({ observer, policies: { none } }).mount(routes, [backendUrl]).build();

const pingRoute = { service: 'shop', method: 'GET', path: '/shop/ping' };
const backend = { url: backendUrl, origin: 'http://127.0.0.1:9', basePath: '/base', weight: 1 };

describe('observer', () => {
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('hears requestStart, backendSelected and upstreamSucceeded with its latency for a forwarded request', async () => {
    const { observer, events } = recorder();
    const plan = asForward(await run(build(observer), 'GET /shop/ping?x=1'));
    expect(events).toEqual([
      { name: 'requestStart', event: { id: 1, route: pingRoute, method: 'GET', path: '/shop/ping' } },
      { name: 'backendSelected', event: { id: 1, route: pingRoute, method: 'GET', path: '/shop/ping', backend } },
    ]);
    plan.settle({ status: 200 });
    expect(events.slice(2)).toEqual([
      { name: 'upstreamSucceeded', event: { id: 1, route: pingRoute, method: 'GET', path: '/shop/ping', backend, status: 200, latencyMs: expect.any(Number) } },
      {
        name: 'requestEnd',
        event: { id: 1, route: pingRoute, method: 'GET', path: '/shop/ping', status: 200, error: undefined, backend, gatewayMade: false, durationMs: expect.any(Number) },
      },
    ]);
    expect(events[2]!.event.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('hears upstreamFailed with the error and latency, and counts a plan settled twice once', async () => {
    const { observer, events } = recorder();
    const plan = asForward(await run(build(observer), 'GET /shop/item/7'));
    const error = new GatewayError('upstream_timeout');
    plan.settle({ error });
    plan.settle({ status: 200 });
    plan.settle({ error: new GatewayError('upstream_reset') });
    const route = { service: 'shop', method: 'GET', path: '/shop/item/{id}' };
    expect(events.map((e) => e.name)).toEqual(['requestStart', 'backendSelected', 'upstreamFailed', 'requestEnd']);
    expect(events[2]!.event).toEqual({ id: 1, route, method: 'GET', path: '/shop/item/7', backend, error, latencyMs: expect.any(Number) });
    // Settled by a transport without an answer of the gateway's (the client left): no status.
    expect(events[3]!.event).toMatchObject({ id: 1, status: undefined, error, backend, gatewayMade: false });
    expect(events[2]!.event.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('hears pipelineFailed when a hook ends the request, and no backend is chosen', async () => {
    const { observer, events } = recorder();
    const g = build(observer);
    const refused = asRespond(await run(g, 'GET /shop/private'));
    const route = { service: 'shop', method: 'GET', path: '/shop/private' };
    expect(events).toEqual([
      { name: 'requestStart', event: { id: 1, route, method: 'GET', path: '/shop/private' } },
      { name: 'pipelineFailed', event: { id: 1, route, method: 'GET', path: '/shop/private', error: refused.error } },
      {
        name: 'requestEnd',
        event: { id: 1, route, method: 'GET', path: '/shop/private', status: 401, error: refused.error, backend: undefined, gatewayMade: true, durationMs: expect.any(Number) },
      },
    ]);
    events.length = 0;
    const broken = asRespond(await run(g, 'GET /shop/broken'));
    expect(events.map((e) => [e.name, e.event.id])).toEqual([
      ['requestStart', 2],
      ['pipelineFailed', 2],
      ['requestEnd', 2],
    ]);
    expect(events[1]!.event.error).toBe(broken.error);
    expect(broken.error?.code).toBe('internal');
  });

  it('hears dispatchFailed with 503 no_backend_available when the policy picks no backend', async () => {
    const { observer, events } = recorder();
    const plan = asRespond(await run(build(observer), 'GET /shop/empty'));
    expect(plan.response.status).toBe(503);
    expect(plan.error?.code).toBe('no_backend_available');
    const route = { service: 'shop', method: 'GET', path: '/shop/empty' };
    expect(events).toEqual([
      { name: 'requestStart', event: { id: 1, route, method: 'GET', path: '/shop/empty' } },
      { name: 'dispatchFailed', event: { id: 1, route, method: 'GET', path: '/shop/empty', error: plan.error } },
      { name: 'requestEnd', event: expect.objectContaining({ id: 1, status: 503, error: plan.error, gatewayMade: true }) },
    ]);
  });

  it('hears only requestEnd, with no route, for a gateway path answered 405 or OPTIONS', async () => {
    const { observer, events } = recorder();
    const g = build(observer);
    const refused = asRespond(await run(g, 'DELETE /shop/ping'));
    asRespond(await run(g, 'OPTIONS /shop/ping'));
    expect(events).toEqual([
      {
        name: 'requestEnd',
        event: { id: 1, route: undefined, method: 'DELETE', path: '/shop/ping', status: 405, error: refused.error, backend: undefined, gatewayMade: true, durationMs: expect.any(Number) },
      },
      {
        name: 'requestEnd',
        event: { id: 2, route: undefined, method: 'OPTIONS', path: '/shop/ping', status: 204, error: undefined, backend: undefined, gatewayMade: true, durationMs: expect.any(Number) },
      },
    ]);
  });

  it("hears a hook's own response as a gateway-made end, and a transport's refusal with the status of its answer", async () => {
    const { observer, events } = recorder();
    const g = createGateway({ observer })
      .mount(service({ name: 'shop', prefix: '/shop' }, [get('/made', { before: () => respond(202, 'made') }), get('/ping')]), [backendUrl])
      .build();
    asRespond(await run(g, 'GET /shop/made'));
    expect(events.at(-1)).toEqual({ name: 'requestEnd', event: expect.objectContaining({ id: 1, status: 202, error: undefined, gatewayMade: true }) });
    const plan = asForward(await run(g, 'GET /shop/ping'));
    const error = new GatewayError('invalid_json');
    expect(plan.refuse(error).status).toBe(400);
    expect(events.at(-1)).toEqual({ name: 'requestEnd', event: expect.objectContaining({ id: 2, status: 400, error, backend, gatewayMade: true }) });
  });

  it('gives each request its own id, in every event of it', async () => {
    const { observer, events } = recorder();
    const g = build(observer);
    const first = asForward(await run(g, 'GET /shop/ping'));
    const second = asForward(await run(g, 'GET /shop/item/1'));
    second.settle({ status: 200 });
    first.settle({ status: 200 });
    expect(events.map((e) => [e.name, e.event.id])).toEqual([
      ['requestStart', 1],
      ['backendSelected', 1],
      ['requestStart', 2],
      ['backendSelected', 2],
      ['upstreamSucceeded', 2],
      ['requestEnd', 2],
      ['upstreamSucceeded', 1],
      ['requestEnd', 1],
    ]);
  });

  it('accepts an observer that implements only some events', async () => {
    const started: string[] = [];
    const g = build({ requestStart: (event) => void started.push(event.path) });
    asForward(await run(g, 'GET /shop/ping')).settle({ status: 200 });
    asRespond(await run(g, 'GET /shop/private'));
    asRespond(await run(g, 'GET /shop/empty'));
    expect(started).toEqual(['/shop/ping', '/shop/private', '/shop/empty']);
  });

  it('reports an observer method that throws through callbackFailed, and settling goes on', async () => {
    const { observer, events } = recorder();
    const failing = { ...observer, upstreamSucceeded: () => { throw new Error('observer broke'); } };
    const plan = asForward(await run(build(failing), 'GET /shop/ping'));
    expect(() => plan.settle({ status: 200 })).not.toThrow();
    expect(events.slice(-2)).toEqual([
      { name: 'callbackFailed', event: { callback: 'observer.upstreamSucceeded', error: new Error('observer broke'), route: pingRoute } },
      { name: 'requestEnd', event: expect.objectContaining({ status: 200 }) },
    ]);
  });

  it("reports a balancer's end that throws, and still tells the observer how the request ended", async () => {
    const { observer, events } = recorder();
    const throwing: Policy = { name: 'throwing', create: (backends) => ({ pick: () => backends[0], end: () => { throw new Error('end broke'); } }) };
    const gateway = createGateway({ observer, policies: { throwing, none }, defaultPolicy: 'throwing' }).mount(routes, [backendUrl]).build();
    const plan = asForward(await run(gateway, 'GET /shop/ping'));
    expect(() => plan.settle({ error: new GatewayError('upstream_reset') })).not.toThrow();
    expect(events.slice(-3).map((e) => [e.name, e.event.callback])).toEqual([
      ['callbackFailed', 'balancer.end'],
      ['upstreamFailed', undefined],
      ['requestEnd', undefined],
    ]);
  });

  it("answers 500 internal when a balancer's pick throws, and reports it", async () => {
    const { observer, events } = recorder();
    const throwing: Policy = { name: 'throwing', create: () => ({ pick: () => { throw new Error('pick broke'); } }) };
    const gateway = createGateway({ observer, policies: { throwing, none }, defaultPolicy: 'throwing' }).mount(routes, [backendUrl]).build();
    const plan = asRespond(await run(gateway, 'GET /shop/ping'));
    expect(plan.error?.code).toBe('internal');
    expect(events.map((e) => e.name)).toEqual(['requestStart', 'callbackFailed', 'dispatchFailed', 'requestEnd']);
  });

  it('reports to the console once per callback when the observer has no callbackFailed', async () => {
    const warn = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const observer: Observer = { upstreamFailed: () => { throw new Error('no channel'); } };
    const gateway = build(observer);
    for (let i = 0; i < 3; i++) asForward(await run(gateway, 'GET /shop/ping')).settle({ error: new GatewayError('upstream_reset') });
    expect(warn.mock.calls.filter((call) => String(call[0]).includes('observer.upstreamFailed'))).toHaveLength(1);
  });

  it('builds no event and reads no clock when no observer is configured', async () => {
    const clock = jest.spyOn(performance, 'now');
    const g = build();
    expect(g.observer).toBeUndefined();
    const plan = asForward(await run(g, 'GET /shop/item/1'));
    plan.settle({ status: 200 });
    plan.settle({ error: new GatewayError('bad_gateway') });
    expect(asRespond(await run(g, 'GET /shop/private')).response.status).toBe(401);
    expect(asRespond(await run(g, 'GET /shop/empty')).response.status).toBe(503);
    expect(clock).not.toHaveBeenCalled();
  });
});

describe('loggingObserver', () => {
  const logged = () => {
    const lines: Record<string, unknown>[] = [];
    const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const logger = pino({ base: undefined, timestamp: false }, destination);
    return { lines, gateway: build(loggingObserver(logger)) };
  };

  it('logs an upstream success at info with the route, backend, status and latency', async () => {
    const { lines, gateway } = logged();
    asForward(await run(gateway, 'GET /shop/ping')).settle({ status: 201 });
    expect(lines).toEqual([
      { level: 30, msg: 'upstream responded', id: 1, service: 'shop', route: '/shop/ping', method: 'GET', path: '/shop/ping', backend: backendUrl, status: 201, latencyMs: expect.any(Number) },
    ]);
  });

  it('logs an upstream failure at warn with the code, details and cause', async () => {
    const { lines, gateway } = logged();
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    asForward(await run(gateway, 'GET /shop/item/9')).settle({ error: new GatewayError('upstream_unreachable', { cause, details: { attempt: 1 } }) });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'upstream failed',
      service: 'shop',
      route: '/shop/item/{id}',
      method: 'GET',
      path: '/shop/item/9',
      backend: backendUrl,
      code: 'upstream_unreachable',
      details: { attempt: 1 },
      err: { type: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED', stack: expect.any(String) },
    });
    expect(lines[0]!.latencyMs).toEqual(expect.any(Number));
  });

  it('logs a client-side refusal at info and a gateway failure at error with its cause', async () => {
    const { lines, gateway } = logged();
    await run(gateway, 'GET /shop/private');
    await run(gateway, 'GET /shop/broken');
    expect(lines).toEqual([
      { level: 30, msg: 'request refused', id: 1, service: 'shop', route: '/shop/private', method: 'GET', path: '/shop/private', code: 'unauthorized' },
      {
        level: 50,
        msg: 'request refused',
        id: 2,
        service: 'shop',
        route: '/shop/broken',
        method: 'GET',
        path: '/shop/broken',
        code: 'internal',
        err: { type: 'Error', message: 'boom', stack: expect.any(String) },
      },
    ]);
  });

  it('logs a dispatch failure at error', async () => {
    const { lines, gateway } = logged();
    await run(gateway, 'GET /shop/empty');
    expect(lines).toEqual([
      { level: 50, msg: 'dispatch failed', id: 1, service: 'shop', route: '/shop/empty', method: 'GET', path: '/shop/empty', code: 'no_backend_available', details: { service: 'shop' } },
    ]);
  });
});
