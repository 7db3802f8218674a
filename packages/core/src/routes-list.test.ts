import { describe, expect, it } from '@jest/globals';
import { all, createGateway, del, get, query, roundRobin, service, type Route } from './index.ts';

const schema = { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } };
/** A route with an input stage declaring its schemas, as the validation package's builders make. */
const validated: Route = { ...get('/orders/{id}'), input: { schemas: { path: schema } } };

const gateway = createGateway({ policies: { sticky: roundRobin(), spread: roundRobin() }, defaultPolicy: 'spread' })
  .mount(
    service({ name: 'sales', prefix: '/sales', policy: 'sticky' }, [
      get('/'),
      get('/item/{id}', { to: '/api/items/{id}?v=2', meta: { summary: 'One item', auth: 'bearer' } }),
      del('/item/{id}', { policy: 'round-robin' }),
      validated,
    ]),
    ['http://127.0.0.1:9'],
  )
  .mount(service({ name: 'files', prefix: '/files' }, [all('/{*rest}'), query('/find/{*rest}', { to: '/search/{*rest}' })]), ['http://127.0.0.1:9'])
  .build();

describe('gateway.routes()', () => {
  it('lists every route in mount and declaration order, with its public and upstream templates', () => {
    expect(gateway.routes().map((r) => [r.method, r.path, r.to, r.service])).toEqual([
      ['GET', '/sales', '/', 'sales'],
      ['GET', '/sales/item/{id}', '/api/items/{id}?v=2', 'sales'],
      ['DELETE', '/sales/item/{id}', '/item/{id}', 'sales'],
      ['GET', '/sales/orders/{id}', '/orders/{id}', 'sales'],
      ['*', '/files/{*rest}', '/{*rest}', 'files'],
      ['QUERY', '/files/find/{*rest}', '/search/{*rest}', 'files'],
    ]);
  });

  it("names the policy that picks each route's backend: the route's, the service's or the default", () => {
    expect(gateway.routes().map((r) => r.policy)).toEqual(['sticky', 'sticky', 'round-robin', 'sticky', 'spread', 'spread']);
  });

  it('carries the declared input schemas and meta as they were given, and empty records otherwise', () => {
    const [root, item, , orders] = gateway.routes();
    expect(root!.input).toEqual({});
    expect(root!.meta).toEqual({});
    expect(item!.meta).toEqual({ summary: 'One item', auth: 'bearer' });
    expect(orders!.input.path).toBe(schema);
  });

  it('returns frozen plain objects that no caller can change', () => {
    const routes = gateway.routes();
    expect(Object.isFrozen(routes)).toBe(true);
    for (const route of routes) {
      expect(Object.isFrozen(route)).toBe(true);
      expect(Object.isFrozen(route.input)).toBe(true);
      expect(Object.isFrozen(route.meta)).toBe(true);
      expect(Object.getPrototypeOf(route)).toBe(Object.prototype);
    }
    expect(() => (routes as unknown[]).push({})).toThrow(TypeError);
    expect(JSON.parse(JSON.stringify(routes[1]))).toEqual({
      method: 'GET',
      path: '/sales/item/{id}',
      to: '/api/items/{id}?v=2',
      service: 'sales',
      policy: 'sticky',
      input: {},
      meta: { summary: 'One item', auth: 'bearer' },
      middleware: [],
    });
  });
});
