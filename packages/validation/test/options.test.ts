import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, service } from '@apigate/core';
import * as v from 'valibot';
import { z } from 'zod';
import { get, post } from '../src/index.ts';
import { multipartBody, postJson, send, startGateway, startUpstream, type GatewayApp, type Upstream } from './helpers.ts';

const order = z.object({ sku: z.string().min(1), qty: z.number().int().positive(), note: z.string().optional() });
const search = z.object({ q: z.string().min(1), page: z.coerce.number().int().positive().optional(), tag: z.union([z.string(), z.array(z.string())]).optional() });
const signup = z.object({ name: z.string().min(1), age: z.coerce.number().int().min(18) });
const review = v.object({ stars: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(5)), text: v.pipe(v.string(), v.minLength(1)) });

const shop = service({ name: 'shop', prefix: '/shop' }, [
  get('/items/{id}', {
    to: '/api/items/{id}',
    path: z.object({ id: z.coerce.number().int().positive() }),
    before: (ctx) => {
      // The hook sees the schema's output: a number, not the template's string.
      ctx.headers.set('x-item-id', `${typeof ctx.params.id}:${ctx.params.id + 1}`);
    },
  }),
  get('/search', { query: search }),
  get('/search-mapped', { to: '/find', query: search, map: (q) => ({ term: q.q, page: q.page ?? 1, tag: typeof q.tag === 'string' ? [q.tag] : q.tag, source: 'gw' }) }),
  post('/orders', { json: order }),
  post('/orders-mapped', { to: '/orders', json: order, map: (o) => ({ items: [{ sku: o.sku.toUpperCase(), quantity: o.qty }], note: o.note ?? null }) }),
  post('/events', { json: z.object({ type: z.literal('created'), id: z.number() }) }),
  post('/signup', { form: signup }),
  post('/signup-mapped', { to: '/signup', form: signup, map: (f) => ({ full_name: f.name, adult: f.age >= 18, roles: ['user', 'beta'] }) }),
  get('/lookup', { form: z.object({ q: z.string().min(1) }) }),
  get('/lookup-mapped', { to: '/lookup', form: z.object({ q: z.string().min(1) }), map: (f) => ({ term: f.q.trim(), exact: true }) }),
  post('/photos', {
    multipart: true,
    before: (ctx) => {
      ctx.headers.set('x-hooked', 'yes');
    },
  }),
  post('/reviews', { json: review }),
  post('/items/{id}/notes', { to: '/api/items/{id}/notes', path: z.object({ id: z.coerce.number().int() }) }),
  post('/ingest', { to: '/ingest?source=gw', query: z.object({ batch: z.string() }), map: (q) => ({ batch: q.batch.toUpperCase() }) }),
  post('/reviews-mapped', { to: '/reviews', json: review, map: (r) => ({ rating: r.stars * 20, body: r.text }) }),
]);

describe('validated routes through Express, checked at the upstream', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(createGateway({ renderer: 'json' }).mount(shop, [upstream.origin]).build());
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  describe('path', () => {
    it('hands the coerced id to a hook, which sets a header the upstream sees', async () => {
      const reply = await send(gateway.port, '/shop/items/41');
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'GET', url: '/api/items/41' });
      expect(seen.headers['x-item-id']).toBe('number:42');
      expect(seen.body.byteLength).toBe(0);
      expect(seen.headers).not.toHaveProperty('transfer-encoding');
    });

    it('refuses an id the schema rejects with 422 validation_failed before the hook, without calling the upstream', async () => {
      const reply = await send(gateway.port, '/shop/items/abc');
      expect(reply.status).toBe(422);
      const error = reply.json<{ error: { code: string; issues: { in: string; path: unknown[] }[] } }>().error;
      expect(error.code).toBe('validation_failed');
      expect(error.issues[0]).toMatchObject({ in: 'path', path: ['id'] });
      expect(upstream.seen).toHaveLength(0);
    });
  });

  describe('query', () => {
    it('passes the client query through byte for byte without a map', async () => {
      const query = 'q=caf%C3%A9+latte&tag=a&tag=b&x=%7e&empty=&page=02';
      const reply = await send(gateway.port, `/shop/search?${query}`, { headers: { 'x-client': '1' } });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'GET', url: `/search?${query}` });
      expect(seen.headers['x-client']).toBe('1');
      expect(seen.body.byteLength).toBe(0);
    });

    it('replaces the query with the serialized map output', async () => {
      const reply = await send(gateway.port, '/shop/search-mapped?q=caf%C3%A9+latte&tag=a&tag=b&page=3&dropped=1');
      expect(reply.status).toBe(200);
      expect(upstream.last().url).toBe('/find?term=caf%C3%A9+latte&page=3&tag=a&tag=b&source=gw');
    });

    it('maps a single tag and a default page', async () => {
      await send(gateway.port, '/shop/search-mapped?q=x&tag=solo');
      expect(upstream.last().url).toBe('/find?term=x&page=1&tag=solo&source=gw');
    });
  });

  describe('json', () => {
    it('forwards the original bytes, whitespace included, with the original Content-Length, without a map', async () => {
      const body = '{ "sku" : "a-1",\n\t"qty": 2 ,  "note":"caf\\u00e9 ☕" }\n';
      const reply = await postJson(gateway.port, '/shop/orders', body);
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'POST', url: '/orders' });
      expect(seen.body.toString('utf8')).toBe(body);
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
      expect(seen.headers).not.toHaveProperty('transfer-encoding');
    });

    it('forwards a chunked JSON body it read with a Content-Length and no Transfer-Encoding', async () => {
      const body = '{"sku":"a-1", "qty":2}';
      const reply = await send(gateway.port, '/shop/orders', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', 'transfer-encoding': 'chunked' }, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen.body.toString('utf8')).toBe(body);
      expect(seen.headers['content-length']).toBe(String(body.length));
      expect(seen.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(seen.headers).not.toHaveProperty('transfer-encoding');
    });

    it('sends the mapped JSON with a matching Content-Length', async () => {
      const reply = await postJson(gateway.port, '/shop/orders-mapped', '{ "sku": "ab-9", "qty": 3 }');
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      const expected = JSON.stringify({ items: [{ sku: 'AB-9', quantity: 3 }], note: null });
      expect(seen).toMatchObject({ method: 'POST', url: '/orders' });
      expect(seen.body.toString('utf8')).toBe(expected);
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
      expect(seen.headers).not.toHaveProperty('transfer-encoding');
    });

    it('accepts a +json media type and keeps it', async () => {
      const body = '{"type":"created","id":7}';
      const reply = await postJson(gateway.port, '/shop/events', body, 'application/vnd.shop.event+json');
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen.headers['content-type']).toBe('application/vnd.shop.event+json');
      expect(seen.body.toString('utf8')).toBe(body);
    });

    it('lists the issues of a schema failure (json renderer) without calling the upstream', async () => {
      const reply = await postJson(gateway.port, '/shop/orders', '{"sku":"","qty":-1}');
      expect(reply.status).toBe(422);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      const error = reply.json<{ error: { code: string; status: number; issues: { in: string; path: unknown[]; message: string }[] } }>().error;
      expect(error).toMatchObject({ code: 'validation_failed', status: 422 });
      expect(error.issues.map((issue) => [issue.in, issue.path])).toEqual([
        ['json', ['sku']],
        ['json', ['qty']],
      ]);
      for (const issue of error.issues) expect(typeof issue.message).toBe('string');
      expect(upstream.seen).toHaveLength(0);
    });
  });

  describe('form', () => {
    const formType = { 'content-type': 'application/x-www-form-urlencoded' };

    it('forwards the original form bytes without a map', async () => {
      const body = 'name=J%C3%BCrgen+M&age=30&extra=%21';
      const reply = await send(gateway.port, '/shop/signup', { method: 'POST', headers: formType, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'POST', url: '/signup' });
      expect(seen.body.toString('utf8')).toBe(body);
      expect(seen.headers['content-length']).toBe(String(body.length));
      expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    });

    it('sends the mapped form with its content type and a matching Content-Length', async () => {
      const reply = await send(gateway.port, '/shop/signup-mapped', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: 'name=J%C3%BCrgen+M&age=30' });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      const expected = 'full_name=J%C3%BCrgen+M&adult=true&roles=user&roles=beta';
      expect(seen).toMatchObject({ method: 'POST', url: '/signup' });
      expect(seen.body.toString('utf8')).toBe(expected);
      expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(seen.headers['content-length']).toBe(String(expected.length));
    });

    it('reads a GET form from the query string and passes it on untouched without a map', async () => {
      const reply = await send(gateway.port, '/shop/lookup?q=red+shoes&x=1');
      expect(reply.status).toBe(200);
      expect(upstream.last()).toMatchObject({ method: 'GET', url: '/lookup?q=red+shoes&x=1' });
      expect(upstream.last().body.byteLength).toBe(0);
    });

    it('maps a GET form back into the query string', async () => {
      const reply = await send(gateway.port, '/shop/lookup-mapped?q=+red+shoes+&x=1');
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'GET', url: '/lookup?term=red+shoes&exact=true' });
      expect(seen.body.byteLength).toBe(0);
      expect(seen.headers).not.toHaveProperty('content-length');
    });

    it('refuses a GET form the schema rejects with 422', async () => {
      const reply = await send(gateway.port, '/shop/lookup?x=1');
      expect(reply.status).toBe(422);
      expect(reply.json<{ error: { issues: { in: string }[] } }>().error.issues[0]!.in).toBe('form');
      expect(upstream.seen).toHaveLength(0);
    });
  });

  describe('multipart', () => {
    const boundary = '----apigate-Boundary7MA4YWxkTrZu0gW';
    // Bytes that look like multipart syntax inside the file must come through as they are.
    const file = Buffer.concat([randomBytes(200_000), Buffer.from(`\r\n--${boundary.slice(0, 10)}\r\n`), randomBytes(1000)]);
    const body = multipartBody(boundary, file);

    it('streams a real multipart body byte for byte and runs the hook', async () => {
      const contentType = `multipart/form-data; boundary=${boundary}`;
      const reply = await send(gateway.port, '/shop/photos', { method: 'POST', headers: { 'content-type': contentType }, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'POST', url: '/photos' });
      expect(seen.headers['x-hooked']).toBe('yes');
      expect(seen.headers['content-type']).toBe(contentType);
      expect(seen.headers['content-length']).toBe(String(body.byteLength));
      expect(seen.body.equals(body)).toBe(true);
    });

    it('streams a chunked multipart body as chunked', async () => {
      const contentType = `multipart/form-data; boundary="${boundary}"`;
      const reply = await send(gateway.port, '/shop/photos', { method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' }, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen.headers['transfer-encoding']).toBe('chunked');
      expect(seen.body.equals(body)).toBe(true);
    });

    it.each([
      ['application/octet-stream', 'application/octet-stream'],
      ['multipart/form-data without a boundary', 'multipart/form-data'],
      ['multipart/mixed', `multipart/mixed; boundary=${boundary}`],
    ])('refuses %s with 415 unsupported_media_type', async (_name, contentType) => {
      const reply = await send(gateway.port, '/shop/photos', { method: 'POST', headers: { 'content-type': contentType }, body });
      expect(reply.status).toBe(415);
      expect(reply.json<{ error: { code: string } }>().error.code).toBe('unsupported_media_type');
      expect(upstream.seen).toHaveLength(0);
    });
  });

  describe('bodies a route does not read', () => {
    it('streams the body of a route that validates only its path, chunked as sent', async () => {
      const body = Buffer.from([0, 255, 13, 10, 1, 2, 3]);
      const reply = await send(gateway.port, '/shop/items/5/notes', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen).toMatchObject({ method: 'POST', url: '/api/items/5/notes' });
      expect(seen.body.equals(body)).toBe(true);
      expect(seen.headers['transfer-encoding']).toBe('chunked');
    });

    it("streams the body of a query route and puts the mapped query after the `to` route's own", async () => {
      const body = '{"not":"read"}';
      const reply = await send(gateway.port, '/shop/ingest?batch=b7&drop=1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen.url).toBe('/ingest?source=gw&batch=B7');
      expect(seen.body.toString('utf8')).toBe(body);
      expect(seen.headers['content-type']).toBe('text/plain');
      expect(seen.headers['content-length']).toBe(String(body.length));
    });
  });

  describe('valibot', () => {
    it('validates with a valibot schema and forwards the original bytes', async () => {
      const body = '{"stars": 4, "text": "good"}';
      const reply = await postJson(gateway.port, '/shop/reviews', body);
      expect(reply.status).toBe(200);
      expect(upstream.last().body.toString('utf8')).toBe(body);
    });

    it('maps a valibot output', async () => {
      const reply = await postJson(gateway.port, '/shop/reviews-mapped', '{"stars": 4, "text": "good"}');
      expect(reply.status).toBe(200);
      const seen = upstream.last();
      expect(seen.url).toBe('/reviews');
      expect(seen.body.toString('utf8')).toBe('{"rating":80,"body":"good"}');
      expect(seen.headers['content-length']).toBe('27');
    });

    it('reports valibot issues with their paths as 422', async () => {
      const reply = await postJson(gateway.port, '/shop/reviews', '{"stars": 9, "text": ""}');
      expect(reply.status).toBe(422);
      const error = reply.json<{ error: { code: string; issues: { in: string; path: unknown[] }[] } }>().error;
      expect(error.code).toBe('validation_failed');
      expect(error.issues.map((issue) => issue.path)).toEqual([['stars'], ['text']]);
      expect(upstream.seen).toHaveLength(0);
    });
  });
});

describe('a schema failure in the problem+json renderer', () => {
  it('lists the issues as an extension member', async () => {
    const upstream = await startUpstream();
    const gateway = await startGateway(createGateway({ renderer: 'problem' }).mount(shop, [upstream.origin]).build());
    try {
      const reply = await postJson(gateway.port, '/shop/orders', '{"sku":"x","qty":"two"}');
      expect(reply.status).toBe(422);
      expect(reply.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const problem = reply.json();
      expect(problem).toMatchObject({ status: 422, code: 'validation_failed', type: 'urn:apigate:error:validation_failed', instance: '/shop/orders' });
      expect(problem.issues).toEqual([{ in: 'json', path: ['qty'], message: expect.any(String) }]);
      expect(upstream.seen).toHaveLength(0);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
