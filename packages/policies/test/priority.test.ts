import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Policy } from '@apigate/core';
import { policy, roundRobinBalancer, type Strategy } from '@apigate/policies';
import { client, eventually, nameOf, resources, startGateway, startUpstream, tcpHandles, type Client, type Upstream } from './helpers.ts';

/** A strategy that keeps only the backends whose URL is one of `origins`. */
const only = (...origins: string[]): Strategy => ({
  name: `only:${origins.join(',')}`,
  route: (_request, backends) => ({ key: undefined, candidates: backends.filter((b) => origins.includes(b.url)) }),
});

const to = (...upstreams: Upstream[]): Policy => policy({ strategy: only(...upstreams.map((u) => u.origin)), balancer: roundRobinBalancer() });

describe('named policies through a real Express gateway', () => {
  const opened = resources();
  let baseline = 0;
  let a: Upstream;
  let b: Upstream;
  let c: Upstream;
  let http: Client;

  beforeEach(async () => {
    baseline = tcpHandles();
    a = opened.add(await startUpstream('a'));
    b = opened.add(await startUpstream('b'));
    c = opened.add(await startUpstream('c'));
  });

  afterEach(async () => {
    await opened.closeAll();
    await eventually('every socket and server of the test is closed', () => tcpHandles() <= baseline);
  });

  it('uses the route policy over the service policy over the default policy', async () => {
    const origins = [a.origin, b.origin, c.origin];
    const gateway = createGateway({ policies: { toA: to(a), toB: to(b), toC: to(c) }, defaultPolicy: 'toC' })
      .mount(service({ name: 'with-policy', prefix: '/with', policy: 'toB' }, [get('/route-policy', { policy: 'toA' }), get('/inherited'), get('/items/{id}', { policy: 'round-robin' })]), origins)
      .mount(service({ name: 'without', prefix: '/without' }, [get('/route-policy', { policy: 'toA' }), get('/default')]), origins)
      .build();
    http = opened.add(client(opened.add(await startGateway(gateway)).port));

    const answers: Record<string, string[]> = {};
    for (const path of ['/with/route-policy', '/with/inherited', '/without/route-policy', '/without/default']) {
      answers[path] = [];
      for (let i = 0; i < 3; i++) answers[path].push(nameOf(await http.send(path)));
    }
    expect(answers).toEqual({
      '/with/route-policy': ['a', 'a', 'a'],
      '/with/inherited': ['b', 'b', 'b'],
      '/without/route-policy': ['a', 'a', 'a'],
      '/without/default': ['c', 'c', 'c'],
    });
    // The built-in round-robin stays available by name beside the named policies.
    const rotated: string[] = [];
    for (let i = 0; i < 3; i++) rotated.push(nameOf(await http.send(`/with/items/${i}`)));
    expect(rotated).toEqual(['a', 'b', 'c']);
    // The app's own routes are untouched.
    expect((await http.send('/own')).text).toBe('own route');
  });

  it('answers 503 no_backend_available when the strategy leaves no candidate, and reaches no upstream', async () => {
    const nowhere: Strategy = { name: 'nowhere', route: () => ({ key: undefined, candidates: [] }) };
    const gateway = createGateway({ policies: { nowhere: policy({ strategy: nowhere }) }, renderer: 'json' })
      .mount(service({ name: 'closed', prefix: '/closed', policy: 'nowhere' }, [get('/x'), get('/open', { policy: 'round-robin' })]), [a.origin])
      .build();
    http = opened.add(client(opened.add(await startGateway(gateway)).port));

    const reply = await http.send('/closed/x');
    expect(reply.status).toBe(503);
    expect(reply.json<{ error: { code: string; status: number } }>().error).toMatchObject({ code: 'no_backend_available', status: 503 });
    expect(a.hits()).toBe(0);
    expect(nameOf(await http.send('/closed/open'))).toBe('a');
  });

  it('routes x-canary: 1 to the canary subset and other requests to the rest; 503 where a service has no canary', async () => {
    const canary: Strategy = {
      name: 'canary',
      route: (request, backends) => ({ key: undefined, candidates: backends.filter((x) => x.url.endsWith('/canary') === (request.headers.get('x-canary') === '1')) }),
    };
    const gateway = createGateway({ policies: { canary: policy({ strategy: canary }) }, defaultPolicy: 'canary' })
      .mount(service({ name: 'with-canary', prefix: '/s' }, [get('/x')]), [a.origin, b.origin, `${c.origin}/canary`])
      .mount(service({ name: 'stable-only', prefix: '/t' }, [get('/x')]), [a.origin, b.origin])
      .build();
    http = opened.add(client(opened.add(await startGateway(gateway)).port));

    for (let i = 0; i < 4; i++) {
      const reply = await http.send('/s/x', { 'x-canary': '1' });
      expect([nameOf(reply), reply.json().url]).toEqual(['c', '/canary/x']);
    }
    const others: string[] = [];
    for (let i = 0; i < 4; i++) others.push(nameOf(await http.send('/s/x')));
    expect(others).toEqual(['a', 'b', 'a', 'b']);

    expect((await http.send('/t/x', { 'x-canary': '1' })).status).toBe(503);
    expect(nameOf(await http.send('/t/x'))).toMatch(/^[ab]$/);
  });

  it('refuses to build a gateway that names an unknown policy, wherever it is named', () => {
    const build = () =>
      createGateway({ policies: { known: to(a) }, defaultPolicy: 'missing-default' })
        .mount(service({ name: 's', policy: 'missing-service' }, [get('/x', { policy: 'missing-route' }), get('/y', { policy: 'known' })]), [a.origin])
        .build();
    let problems: readonly { code: string; message: string }[] = [];
    try {
      build();
    } catch (error) {
      problems = (error as { problems: typeof problems }).problems;
    }
    expect(problems.map((p) => [p.code, p.message])).toEqual([
      ['unknown_policy', 'default policy "missing-default" is not registered'],
      ['unknown_policy', 'policy "missing-service" is not registered'],
      ['unknown_policy', 'policy "missing-route" is not registered'],
    ]);
  });
});
