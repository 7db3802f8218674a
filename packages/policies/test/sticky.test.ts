import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Backend } from '@apigate/core';
import { consistentHashBalancer } from '@apigate/policies/consistent-hash';
import { cookieSticky, headerSticky, pathSticky } from '@apigate/policies';
import { client, eventually, nameOf, resources, startGateway, startUpstream, tcpHandles, type Client, type Upstream } from './helpers.ts';

const api = service({ name: 'api', prefix: '/api', policy: 'byUser' }, [
  get('/me'),
  get('/carts/{cartId}', { policy: 'byCart', to: '/carts/{cartId}' }),
  get('/session', { policy: 'bySession' }),
]);

describe('sticky policies through a real Express gateway', () => {
  const opened = resources();
  let baseline = 0;
  let upstreams: Upstream[] = [];
  let http: Client;
  /** The upstream name consistent hashing predicts for a key, computed in this process. */
  let predicted: (key: string) => string;

  beforeEach(async () => {
    baseline = tcpHandles();
    upstreams = [];
    for (const name of ['u0', 'u1', 'u2', 'u3']) upstreams.push(opened.add(await startUpstream(name)));
    const gateway = createGateway({ policies: { byUser: headerSticky('x-user'), byCart: pathSticky('cartId'), bySession: cookieSticky('sid') } })
      .mount(api, upstreams.map((u) => u.origin))
      .build();
    const app = opened.add(await startGateway(gateway));
    http = opened.add(client(app.port));
    const backends: Backend[] = upstreams.map((u) => ({ url: u.origin, origin: u.origin, basePath: '', weight: 1 }));
    const balancer = consistentHashBalancer().create(backends);
    predicted = (key) => upstreams[backends.indexOf(balancer.pick(backends, key)!)]!.name;
  });

  afterEach(async () => {
    await opened.closeAll();
    await eventually('every socket and server of the test is closed', () => tcpHandles() <= baseline);
  });

  /** Sends each value 4 times; every answer for a value must come from the same upstream. */
  const stickiness = async (values: readonly string[], send: (value: string) => Promise<string>): Promise<Map<string, string>> => {
    const landed = new Map<string, string>();
    for (const value of values) {
      const names = new Set<string>();
      for (let i = 0; i < 4; i++) names.add(await send(value));
      expect([value, [...names]]).toEqual([value, [names.values().next().value]]);
      landed.set(value, [...names][0]!);
    }
    return landed;
  };

  const values = Array.from({ length: 40 }, (_, i) => `value-${i}`);

  it('header-sticky: the same X-User always reaches the same upstream, and users spread over the upstreams', async () => {
    const landed = await stickiness(values, async (user) => nameOf(await http.send('/api/me', { 'x-user': user })));
    expect(new Set(landed.values()).size).toBeGreaterThanOrEqual(3);
    // The upstream is the one consistent hashing picks for that key over the same URLs.
    for (const [user, name] of landed) expect([user, name]).toEqual([user, predicted(user)]);
  });

  it('header-sticky: requests without the header are balanced round robin over every upstream', async () => {
    const names: string[] = [];
    for (let i = 0; i < 8; i++) names.push(nameOf(await http.send('/api/me')));
    expect(names).toEqual(['u0', 'u1', 'u2', 'u3', 'u0', 'u1', 'u2', 'u3']);
  });

  it('path-sticky: the same cart id always reaches the same upstream, hashed as decoded', async () => {
    const landed = await stickiness(values, async (cart) => {
      const reply = await http.send(`/api/carts/${encodeURIComponent(cart)}`);
      expect(reply.json().url).toBe(`/carts/${cart}`);
      return nameOf(reply);
    });
    expect(new Set(landed.values()).size).toBeGreaterThanOrEqual(3);
    for (const [cart, name] of landed) expect([cart, name]).toEqual([cart, predicted(cart)]);
    // Percent-encoded and plain spellings of one id are one key.
    expect(nameOf(await http.send('/api/carts/caf%C3%A9'))).toBe(predicted('café'));
    expect(nameOf(await http.send('/api/carts/%41BC'))).toBe(nameOf(await http.send('/api/carts/ABC')));
  });

  it('cookie-sticky: the same session cookie always reaches the same upstream, among other cookies and quoted or not', async () => {
    const landed = await stickiness(values, async (sid) => nameOf(await http.send('/api/session', { cookie: `theme=dark; sid=${sid}; lang=en` })));
    expect(new Set(landed.values()).size).toBeGreaterThanOrEqual(3);
    for (const [sid, name] of landed) {
      expect([sid, name]).toEqual([sid, predicted(sid)]);
      expect(nameOf(await http.send('/api/session', { cookie: `sid="${sid}"` }))).toBe(name);
    }
    // A look-alike cookie is not the session: those requests are balanced round robin.
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add(nameOf(await http.send('/api/session', { cookie: 'xsid=same' })));
    expect(names.size).toBe(4);
  });
});
