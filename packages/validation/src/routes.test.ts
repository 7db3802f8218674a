import { describe, expect, it } from '@jest/globals';
import { unauthorized } from '@apigate/errors';
import { createGateway, get as coreGet, service, type Env, type Middleware, type Route } from '@apigate/core';
import * as v from 'valibot';
import { z } from 'zod';
import { asForward, asRespond, bodyText, forwardedBody, run, testBody, testIO } from './test-utils/index.ts';
import { all, declaredSchemas, defineRoutes, get, post, query } from './index.ts';

const backend = 'http://127.0.0.1:9';
const gatewayWith = (routes: readonly Route[]) => createGateway({ renderer: 'json' }).mount(service({ name: 'app', prefix: '/app' }, routes), [backend]).build();
const errorOf = (text: string): { code: string; issues?: unknown } => (JSON.parse(text) as { error: { code: string; issues?: unknown } }).error;

const search = z.object({ term: z.string().min(1), limit: z.number().int().positive().max(100) });

describe('query()', () => {
  it('validates a JSON body of a QUERY request and maps it, as post() does', async () => {
    const g = gatewayWith([query('/search', { json: search, map: ({ term, limit }) => ({ q: term, size: limit }) })]);
    const plan = asForward(await run(g, 'QUERY', '/app/search', testIO({ body: testBody({ contentType: 'application/json', bytes: '{"term":"shoes","limit":5}' }) })));
    expect([plan.method, plan.uri, plan.contentType]).toEqual(['QUERY', '/search', 'application/json']);
    expect(forwardedBody(plan)).toBe('{"q":"shoes","size":5}');
  });

  it('refuses an invalid JSON body with 422 and the issues, without going upstream', async () => {
    const g = gatewayWith([query('/search', { json: search })]);
    const plan = asRespond(await run(g, 'QUERY', '/app/search', testIO({ body: testBody({ contentType: 'application/json', bytes: '{"term":"","limit":500}' }) })));
    expect(plan.response.status).toBe(422);
    expect(plan.error?.code).toBe('validation_failed');
    expect(errorOf(bodyText(plan.response)).issues).toEqual([expect.objectContaining({ in: 'json', path: ['term'] }), expect.objectContaining({ in: 'json', path: ['limit'] })]);
  });

  it('reads a form from the body, not the query string: QUERY has a body', async () => {
    const g = gatewayWith([query('/search', { form: z.object({ q: z.string() }) })]);
    const body = testBody({ contentType: 'application/x-www-form-urlencoded', bytes: 'q=from-body' });
    const plan = asForward(await run(g, 'QUERY', '/app/search?q=from-query', testIO({ body })));
    expect(forwardedBody(plan)).toBe('q=from-body');
    expect(body.reads).toHaveLength(1);
    const missing = asRespond(await run(g, 'QUERY', '/app/search?q=from-query', testIO({ body: testBody({ contentType: 'application/x-www-form-urlencoded', bytes: '' }) })));
    expect([missing.response.status, missing.error?.code]).toEqual([422, 'validation_failed']);
  });
});

describe('catch-all routes and all()', () => {
  it('validates the tail with a path schema: hooks and maps see its output, the upstream the raw tail', async () => {
    const seen: unknown[] = [];
    const g = gatewayWith([
      get('/files/{*rest}', {
        to: '/store/{*rest}',
        path: z.object({ rest: z.string().regex(/^[\w ]+(\/[\w .]+)*$/).transform((rest) => rest.split('/')) }),
        before: (ctx) => void seen.push(ctx.params.rest),
      }),
    ]);
    expect(asForward(await run(g, 'GET', '/app/files/a%20b/c.txt')).uri).toBe('/store/a%20b/c.txt');
    expect(seen).toEqual([['a b', 'c.txt']]);
    const refused = asRespond(await run(g, 'GET', '/app/files/a/%24'));
    expect([refused.response.status, refused.error?.code]).toEqual([422, 'validation_failed']);
    // The traversal checks come first, whatever the schema would say.
    const traversal = asRespond(await run(g, 'GET', '/app/files/a/%2e%2e/b'));
    expect([traversal.response.status, traversal.error?.code]).toEqual([400, 'invalid_path']);
  });

  it('validates the form body of every method an all() route answers; on GET the form is the query string', async () => {
    const g = gatewayWith([all('/things/{*rest}', { form: z.object({ name: z.string() }) })]);
    for (const method of ['POST', 'PATCH', 'QUERY']) {
      const plan = asForward(await run(g, method, '/app/things/x', testIO({ body: testBody({ contentType: 'application/x-www-form-urlencoded', bytes: 'name=n' }) })));
      expect([plan.method, plan.uri, forwardedBody(plan)]).toEqual([method, '/things/x', 'name=n']);
    }
    expect(asForward(await run(g, 'GET', '/app/things/x?name=n')).uri).toBe('/things/x?name=n');
    const refused = asRespond(await run(g, 'GET', '/app/things/x'));
    expect([refused.response.status, refused.error?.code]).toEqual([422, 'validation_failed']);
  });
});

describe('gateway.routes()', () => {
  const item = v.object({ id: v.string() });
  const order = z.object({ sku: z.string() });
  const lookup = z.object({ q: z.string() });
  const g = gatewayWith([
    get('/items/{id}', { path: item, meta: { summary: 'One item' } }),
    post('/orders', { json: order, to: '/v2/orders' }),
    get('/lookup', { query: lookup }),
    post('/upload', { multipart: true }),
    query('/find', { form: lookup }),
    all('/rest/{*rest}'),
    coreGet('/plain'),
  ]);

  it('lists the schemas each route declared, the very objects given', () => {
    const routes = g.routes();
    expect(routes.map((r) => [r.method, r.path, r.to])).toEqual([
      ['GET', '/app/items/{id}', '/items/{id}'],
      ['POST', '/app/orders', '/v2/orders'],
      ['GET', '/app/lookup', '/lookup'],
      ['POST', '/app/upload', '/upload'],
      ['QUERY', '/app/find', '/find'],
      ['*', '/app/rest/{*rest}', '/rest/{*rest}'],
      ['GET', '/app/plain', '/plain'],
    ]);
    expect(routes[0]!.input).toEqual({ path: item });
    expect(routes[0]!.input.path).toBe(item);
    expect(routes[0]!.meta).toEqual({ summary: 'One item' });
    expect(routes[1]!.input.json).toBe(order);
    expect(routes[2]!.input).toEqual({ query: lookup });
    expect(routes[3]!.input).toEqual({ multipart: true });
    expect(routes[4]!.input.form).toBe(lookup);
    expect(routes[5]!.input).toEqual({});
    expect(routes[6]!.input).toEqual({});
  });

  it('gives them back typed through declaredSchemas()', () => {
    const [items, orders, , upload, , rest] = g.routes();
    expect(declaredSchemas(items!)).toEqual({ path: item });
    expect(declaredSchemas(orders!).json).toBe(order);
    expect(declaredSchemas(upload!)).toEqual({ multipart: true });
    expect(declaredSchemas(rest!)).toEqual({});
    // Anything that is not a Standard Schema is not passed off as one.
    expect(declaredSchemas({ input: { json: { type: 'object' }, multipart: 'yes' } })).toEqual({});
  });
});

describe('middleware on validated routes', () => {
  /** Refuses a request without `x-sub`; puts the subject in scope otherwise. */
  const auth = (): Middleware<Env, { claims: { sub: string } }> => ({
    name: 'auth',
    request: (ctx) => {
      const sub = ctx.headers.get('x-sub');
      if (sub === undefined) return unauthorized();
      ctx.set('claims', { sub });
    },
  });
  const order = z.object({ sku: z.string() });
  const json = (headers: Record<string, string>, bytes: string) => testIO({ headers, body: testBody({ contentType: 'application/json', bytes }) });

  it("runs a route's own middleware before its validation, and its map reads what the middleware put in scope", async () => {
    const g = gatewayWith([post('/orders', { use: [auth()], json: order, map: (input, ctx) => ({ ...input, owner: ctx.get('claims')?.sub }) })]);
    expect(forwardedBody(asForward(await run(g, 'POST', '/app/orders', json({ 'x-sub': 'alice' }, '{"sku":"a1"}'))))).toBe('{"sku":"a1","owner":"alice"}');
    const body = testBody({ contentType: 'application/json', bytes: '{"sku":"a1"}' });
    const refused = asRespond(await run(g, 'POST', '/app/orders', testIO({ body })));
    expect([refused.response.status, refused.error?.code]).toEqual([401, 'unauthorized']);
    // Refused by the middleware, the body was never read.
    expect(body.reads).toHaveLength(0);
    expect(g.routes()[0]!.middleware.map((m) => m.name)).toEqual(['auth']);
  });

  it("hands a service's callback these builders: its routes validate, and their maps read the service middleware's scope", async () => {
    const app = defineRoutes<{ state: { tenant: string } }>();
    const shop = service({ name: 'shop', prefix: '/shop', use: [auth()] }, app, ({ post: typedPost }) => [
      typedPost('/orders', { json: order, map: (input, ctx) => ({ ...input, owner: ctx.get('claims')?.sub, tenant: ctx.state.tenant }) }),
    ]);
    const g = createGateway({ state: { tenant: 't1' }, renderer: 'json' }).mount(shop, [backend]).build();
    expect(forwardedBody(asForward(await run(g, 'POST', '/shop/orders', json({ 'x-sub': 'bob' }, '{"sku":"b2"}'))))).toBe('{"sku":"b2","owner":"bob","tenant":"t1"}');
    const invalid = asRespond(await run(g, 'POST', '/shop/orders', json({ 'x-sub': 'bob' }, '{"sku":2}')));
    expect([invalid.response.status, invalid.error?.code]).toEqual([422, 'validation_failed']);
    expect(g.routes()[0]!.input).toEqual({ json: order });
  });
});
