import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, run, testIO } from './test-utils/index.ts';
import { createGateway, get, roundRobin, service, type Backend, type Policy, type UpstreamOutcome } from './index.ts';

/** A policy that records which name picked each request, always choosing the first backend. */
const recording = (name: string, log: string[]): Policy => ({
  name,
  create: (backends) => ({
    pick: (request) => {
      log.push(`${name} ${request.method} ${request.route.path}`);
      return backends[0];
    },
  }),
});

const backendOf = async (gateway: Parameters<typeof run>[0], url: string): Promise<string> => asForward(await run(gateway, `GET ${url}`)).backend.url;

describe('policies', () => {
  it('round-robins over the backends in their order by default', async () => {
    const g = createGateway()
      .mount(service({ name: 's', prefix: '/s' }, [get('/a'), get('/b/{id}')]), ['http://10.0.0.1', 'http://10.0.0.2', 'http://10.0.0.3'])
      .build();
    const picked: string[] = [];
    for (let i = 0; i < 7; i++) picked.push(await backendOf(g, i % 2 === 0 ? '/s/a' : '/s/b/1'));
    // One balancer per service and policy: both routes share the ring.
    expect(picked).toEqual(['http://10.0.0.1', 'http://10.0.0.2', 'http://10.0.0.3', 'http://10.0.0.1', 'http://10.0.0.2', 'http://10.0.0.3', 'http://10.0.0.1']);
  });

  it('keeps one ring per service', async () => {
    const g = createGateway()
      .mount(service({ name: 'x', prefix: '/x' }, [get('/')]), ['http://x1', 'http://x2'])
      .mount(service({ name: 'y', prefix: '/y' }, [get('/')]), ['http://y1', 'http://y2'])
      .build();
    const picked = [await backendOf(g, '/x'), await backendOf(g, '/y'), await backendOf(g, '/x'), await backendOf(g, '/y')];
    expect(picked).toEqual(['http://x1', 'http://y1', 'http://x2', 'http://y2']);
  });

  it('weights round robin by each backend weight, smoothly spread (NGINX smooth weighted round robin)', async () => {
    const g = createGateway()
      .mount(service({ name: 's' }, [get('/w')]), [{ url: 'http://a', weight: 2 }, 'http://b', { url: 'http://c', weight: 3 }])
      .build();
    const picked: string[] = [];
    for (let i = 0; i < 12; i++) picked.push(await backendOf(g, '/w'));
    expect(picked).toEqual(['c', 'a', 'b', 'c', 'a', 'c', 'c', 'a', 'b', 'c', 'a', 'c'].map((host) => `http://${host}`));
  });

  it('parses backends into origin, base path and weight', async () => {
    const g = createGateway().mount(service({ name: 's' }, [get('/p')]), [{ url: 'https://api.example:8443/v1/', weight: 1 }]).build();
    const backend: Backend = asForward(await run(g, 'GET /p')).backend;
    expect(backend).toEqual({ url: 'https://api.example:8443/v1/', origin: 'https://api.example:8443', basePath: '/v1', weight: 1 });
  });

  it('uses the route policy over the service policy over the default policy', async () => {
    const log: string[] = [];
    const g = createGateway({
      defaultPolicy: 'fallback',
      policies: { fallback: recording('fallback', log), svc: recording('svc', log), route: recording('route', log) },
    })
      .mount(service({ name: 'with-policy', prefix: '/a', policy: 'svc' }, [get('/own', { policy: 'route' }), get('/inherited')]), ['http://a'])
      .mount(service({ name: 'without', prefix: '/b' }, [get('/own', { policy: 'route' }), get('/default'), get('/rr', { policy: 'round-robin' })]), ['http://b1', 'http://b2'])
      .build();
    for (const url of ['/a/own', '/a/inherited', '/b/own', '/b/default']) await run(g, `GET ${url}`);
    expect(log).toEqual(['route GET /a/own', 'svc GET /a/inherited', 'route GET /b/own', 'fallback GET /b/default']);
    // The built-in round-robin stays available by name beside custom policies.
    expect([await backendOf(g, '/b/rr'), await backendOf(g, '/b/rr')]).toEqual(['http://b1', 'http://b2']);
    expect(log).toHaveLength(4);
  });

  it('gives the balancer the request and decoded params, and tells it when a request starts and ends', async () => {
    const events: unknown[] = [];
    const tracking: Policy = {
      name: 'tracking',
      create: (backends) => ({
        pick: (request) => {
          events.push({ pick: { method: request.method, path: request.path, route: request.route.path, params: request.params, tenant: request.headers.get('x-tenant') } });
          return backends[1];
        },
        start: (backend) => void events.push({ start: backend.url }),
        end: (backend, outcome: UpstreamOutcome) => void events.push({ end: backend.url, ok: outcome.ok, status: 'status' in outcome ? outcome.status : outcome.code, fast: outcome.latencyMs >= 0 }),
      }),
    };
    const g = createGateway({ policies: { tracking }, defaultPolicy: 'tracking' })
      .mount(service({ name: 's', prefix: '/s' }, [get('/t/{id}', { to: '/t/{id}' })]), ['http://one', 'http://two'])
      .build();
    const plan = asForward(await run(g, 'GET /s/t/a%20b', testIO({ 'X-Tenant': 'acme' })));
    expect(events).toEqual([
      { pick: { method: 'GET', path: '/s/t/a%20b', route: '/s/t/{id}', params: { id: 'a b' }, tenant: 'acme' } },
      { start: 'http://two' },
    ]);
    plan.settle({ status: 204 });
    plan.settle({ status: 500 });
    expect(events.slice(2)).toEqual([{ end: 'http://two', ok: true, status: 204, fast: true }]);
  });

  it('answers 503 no_backend_available when the balancer picks none', async () => {
    const none: Policy = { name: 'none', create: () => ({ pick: () => undefined }) };
    const g = createGateway({ policies: { none } }).mount(service({ name: 's' }, [get('/x', { policy: 'none' })]), ['http://a']).build();
    const plan = asRespond(await run(g, 'GET /x'));
    expect(plan.response.status).toBe(503);
    expect(plan.error?.code).toBe('no_backend_available');
    expect(plan.error?.details).toEqual({ service: 's' });
  });

  it('roundRobin() picks nothing from an empty backend list', () => {
    expect(roundRobin().create([]).pick({} as never)).toBeUndefined();
  });
});
