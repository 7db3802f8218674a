import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, post as passthrough, service } from '@apigate/core';
import express from 'express';
import * as v from 'valibot';
import { z } from 'zod';
import { get, post } from '../src/index.ts';
import { postJson, send, startGateway, startUpstream, type GatewayApp, type Reply, type Seen, type Upstream } from './helpers.ts';

const order = z.object({ sku: z.string().min(1), qty: z.number().int().positive() });
const signup = z.object({ name: z.string().min(1), age: z.coerce.number().int().min(18) });

const shop = service({ name: 'shop', prefix: '/shop' }, [
  post('/orders', { json: order }),
  post('/orders-mapped', { to: '/orders', json: order, map: (o) => ({ sku: o.sku.toUpperCase(), quantity: o.qty }) }),
  post('/reviews', { json: v.object({ stars: v.pipe(v.number(), v.minValue(1), v.maxValue(5)) }), map: (r) => ({ rating: r.stars * 20 }) }),
  post('/signup', { form: signup }),
  post('/signup-mapped', { to: '/signup', form: signup, map: (f) => ({ full_name: f.name, age: f.age }) }),
  get('/lookup', { form: z.object({ q: z.string() }), map: (f) => ({ term: f.q }) }),
  post('/any', { json: z.unknown() }),
  post('/small', { json: z.unknown(), limit: 64 }),
  post('/small-form', { form: z.record(z.string(), z.string()), limit: 64 }),
  passthrough('/raw'),
]);

const codeOf = (reply: Reply): string => reply.json<{ error: { code: string } }>().error.code;

/** The framing every re-serialized body must have: a Content-Length that matches, no chunking. */
const expectFramed = (seen: Seen): void => {
  expect(seen.headers).not.toHaveProperty('transfer-encoding');
  expect(seen.headers['content-length']).toBe(String(seen.body.byteLength));
};

describe('express.json() and express.urlencoded() before validated routes', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(createGateway({ renderer: 'json' }).mount(shop, [upstream.origin]).build(), [express.json(), express.urlencoded({ extended: false })]);
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('validates the parsed JSON and forwards it re-serialized with a matching Content-Length', async () => {
    const reply = await postJson(gateway.port, '/shop/orders', '{\n  "sku": "a-1",\n  "qty": 2\n}');
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen).toMatchObject({ method: 'POST', url: '/orders' });
    expect(JSON.parse(seen.body.toString('utf8'))).toEqual({ sku: 'a-1', qty: 2 });
    expect(seen.headers['content-type']).toBe('application/json');
    expectFramed(seen);
  });

  it('refuses parsed JSON the schema rejects with 422 listing the issues', async () => {
    const reply = await postJson(gateway.port, '/shop/orders', '{"sku":"a-1","qty":0}');
    expect(reply.status).toBe(422);
    expect(reply.json<{ error: { issues: unknown[] } }>().error.issues).toEqual([{ in: 'json', path: ['qty'], message: expect.any(String) }]);
    expect(upstream.seen).toHaveLength(0);
  });

  it('sends the mapped output of parsed JSON with a matching Content-Length', async () => {
    const reply = await postJson(gateway.port, '/shop/orders-mapped', '{"sku":"ab","qty":3}');
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen.url).toBe('/orders');
    expect(seen.body.toString('utf8')).toBe('{"sku":"AB","quantity":3}');
    expectFramed(seen);
  });

  it('maps parsed JSON with a valibot schema', async () => {
    const reply = await postJson(gateway.port, '/shop/reviews', '{"stars":3}');
    expect(reply.status).toBe(200);
    expect(upstream.last().body.toString('utf8')).toBe('{"rating":60}');
    expectFramed(upstream.last());
    expect((await postJson(gateway.port, '/shop/reviews', '{"stars":7}')).status).toBe(422);
  });

  it('forwards chunked JSON that the parser read with a Content-Length', async () => {
    const reply = await send(gateway.port, '/shop/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: '{"sku":"c","qty":1}' });
    expect(reply.status).toBe(200);
    expect(JSON.parse(upstream.last().body.toString('utf8'))).toEqual({ sku: 'c', qty: 1 });
    expectFramed(upstream.last());
  });

  it('validates a gzipped JSON body that express.json() inflated and forwards it plain', async () => {
    const reply = await send(gateway.port, '/shop/orders-mapped', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{"sku":"z","qty":1}') });
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen.body.toString('utf8')).toBe('{"sku":"Z","quantity":1}');
    expect(seen.headers).not.toHaveProperty('content-encoding');
    expectFramed(seen);
  });

  it("refuses a parsed body whose declared length is over the route's limit with 413", async () => {
    const reply = await postJson(gateway.port, '/shop/small', JSON.stringify({ text: 'x'.repeat(100) }));
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 413, code: 'payload_too_large' });
    expect(upstream.seen).toHaveLength(0);
  });

  it("refuses a chunked parsed JSON body over the route's limit with 413, as a declared one", async () => {
    const chunked = { 'content-type': 'application/json', 'transfer-encoding': 'chunked' };
    const over = await send(gateway.port, '/shop/small', { method: 'POST', headers: chunked, body: JSON.stringify({ text: 'x'.repeat(100) }) });
    expect({ status: over.status, code: codeOf(over) }).toEqual({ status: 413, code: 'payload_too_large' });
    expect(upstream.seen).toHaveLength(0);
    // The limit counts the bytes that would go upstream: exactly 64 passes, 65 does not.
    const at = JSON.stringify({ text: 'x'.repeat(64 - '{"text":""}'.length) });
    expect((await send(gateway.port, '/shop/small', { method: 'POST', headers: chunked, body: at })).status).toBe(200);
    expect(upstream.last().body.toString('utf8')).toBe(at);
    const past = await send(gateway.port, '/shop/small', { method: 'POST', headers: chunked, body: JSON.stringify({ text: 'x'.repeat(65 - '{"text":""}'.length) }) });
    expect({ status: past.status, code: codeOf(past) }).toEqual({ status: 413, code: 'payload_too_large' });
    expect(upstream.seen).toHaveLength(1);
  });

  it("refuses a chunked parsed form over the route's limit with 413", async () => {
    const reply = await send(gateway.port, '/shop/small-form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' }, body: `a=${'x'.repeat(100)}` });
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 413, code: 'payload_too_large' });
    expect(upstream.seen).toHaveLength(0);
    expect((await send(gateway.port, '/shop/small-form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' }, body: 'a=1' })).status).toBe(200);
  });

  it('refuses an empty JSON body that express.json() turned into {} as 400 invalid_json, as without the parser', async () => {
    const reply = await send(gateway.port, '/shop/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 0 } });
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 400, code: 'invalid_json' });
    expect(upstream.seen).toHaveLength(0);
  });

  it('refuses a __proto__ key that express.json() kept with 400 invalid_json', async () => {
    const reply = await postJson(gateway.port, '/shop/orders', '{"sku":"a","qty":1,"__proto__":{"polluted":1}}');
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 400, code: 'invalid_json' });
    expect(upstream.seen).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses JSON that express.json() parsed but is nested deeper than the limit with 400 invalid_json', async () => {
    const reply = await postJson(gateway.port, '/shop/any', `${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 400, code: 'invalid_json' });
    expect(upstream.seen).toHaveLength(0);
  });

  it('validates the parsed form and forwards it re-encoded with a matching Content-Length', async () => {
    const reply = await send(gateway.port, '/shop/signup', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=J%C3%BCrgen&age=30' });
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen.url).toBe('/signup');
    expect(seen.body.toString('utf8')).toBe('name=J%C3%BCrgen&age=30');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expectFramed(seen);
  });

  it('refuses a parsed form the schema rejects with 422', async () => {
    const reply = await send(gateway.port, '/shop/signup', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=kid&age=9' });
    expect(reply.status).toBe(422);
    expect(reply.json<{ error: { issues: { in: string; path: unknown[] }[] } }>().error.issues).toEqual([{ in: 'form', path: ['age'], message: expect.any(String) }]);
    expect(upstream.seen).toHaveLength(0);
  });

  it('sends the mapped output of a parsed form with a matching Content-Length', async () => {
    const reply = await send(gateway.port, '/shop/signup-mapped', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Ann+Lee&age=40' });
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen.body.toString('utf8')).toBe('full_name=Ann+Lee&age=40');
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expectFramed(seen);
  });

  it('maps a GET form into the query string with the parsers in front', async () => {
    const reply = await send(gateway.port, '/shop/lookup?q=a+b', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(reply.status).toBe(200);
    expect(upstream.last()).toMatchObject({ method: 'GET', url: '/lookup?term=a+b' });
    expect(upstream.last().body.byteLength).toBe(0);
  });

  it('still forwards a passthrough route beside them', async () => {
    const body = Buffer.from([0, 1, 2, 255, 254, 13, 10]);
    const reply = await send(gateway.port, '/shop/raw', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    expect(reply.status).toBe(200);
    const seen = upstream.last();
    expect(seen.body.equals(body)).toBe(true);
    expect(seen.headers['content-length']).toBe('7');
  });

  it('forwards JSON a parser read on a passthrough route', async () => {
    const reply = await postJson(gateway.port, '/shop/raw', '{"any": "thing"}');
    expect(reply.status).toBe(200);
    expect(JSON.parse(upstream.last().body.toString('utf8'))).toEqual({ any: 'thing' });
    expectFramed(upstream.last());
  });
});

describe('express.text() and express.raw() before a validated route with a limit', () => {
  it("refuses a chunked body the parser kept as a string or bytes when it is over the route's limit", async () => {
    const upstream = await startUpstream();
    const small = service({ name: 's', prefix: '/s' }, [post('/json', { json: z.unknown(), limit: 64 })]);
    const built = createGateway({ renderer: 'json' }).mount(small, [upstream.origin]).build();
    const asText = await startGateway(built, [express.text({ type: 'application/json' })]);
    const asBytes = await startGateway(built, [express.raw({ type: 'application/json' })]);
    try {
      const headers = { 'content-type': 'application/json', 'transfer-encoding': 'chunked' };
      // 64 bytes of UTF-8 in fewer characters: the limit is in bytes.
      const over = JSON.stringify({ t: 'é'.repeat(30) });
      for (const app of [asText, asBytes]) {
        const reply = await send(app.port, '/s/json', { method: 'POST', headers, body: over });
        expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status: 413, code: 'payload_too_large' });
        expect((await send(app.port, '/s/json', { method: 'POST', headers, body: '{"t":"ok"}' })).status).toBe(200);
      }
      expect(upstream.seen.map((seen) => seen.body.toString('utf8'))).toEqual(['{"t":"ok"}', '{"t":"ok"}']);
    } finally {
      await asText.close();
      await asBytes.close();
      await upstream.close();
    }
  });
});

describe('express.urlencoded({ extended: true }) before a validated form route', () => {
  it('validates the nested object qs made and refuses poisonous keys', async () => {
    const upstream = await startUpstream();
    const nested = service({ name: 'n', prefix: '/n' }, [post('/form', { form: z.object({ address: z.object({ city: z.string() }) }) })]);
    const gateway = await startGateway(createGateway({ renderer: 'json' }).mount(nested, [upstream.origin]).build(), [express.urlencoded({ extended: true })]);
    try {
      const type = { 'content-type': 'application/x-www-form-urlencoded' };
      const ok = await send(gateway.port, '/n/form', { method: 'POST', headers: type, body: 'address[city]=Paris' });
      expect(ok.status).toBe(200);
      expect(upstream.last().body.toString('utf8')).toBe('address%5Bcity%5D=Paris');
      expectFramed(upstream.last());
      const bad = await send(gateway.port, '/n/form', { method: 'POST', headers: type, body: 'address[city]=Paris&constructor[prototype][polluted]=1' });
      // qs keeps `constructor.prototype` as nested objects: refused as a bad form, not as bad JSON.
      expect({ status: bad.status, code: codeOf(bad) }).toEqual({ status: 400, code: 'invalid_form' });
      expect(upstream.seen).toHaveLength(1);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});

describe('a body parser that accepts very deep JSON before non-validating routes', () => {
  it('answers, rather than hanging or crashing, when the parsed body cannot be re-serialized', async () => {
    const upstream = await startUpstream();
    const deep = service({ name: 'd', prefix: '/d' }, [
      passthrough('/raw'),
      passthrough('/hooked', {
        before: (ctx) => {
          ctx.headers.set('x-hooked', '1');
        },
      }),
      post('/json', { json: z.unknown() }),
    ]);
    const gateway = await startGateway(createGateway({ renderer: 'json' }).mount(deep, [upstream.origin]).build(), [express.json({ limit: '1mb' })]);
    try {
      const body = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
      for (const path of ['/d/raw', '/d/hooked', '/d/json']) {
        const reply = await postJson(gateway.port, path, body);
        expect({ path, status: reply.status, code: codeOf(reply) }).toEqual({ path, status: 400, code: 'invalid_json' });
      }
      expect(upstream.seen).toHaveLength(0);
      expect((await postJson(gateway.port, '/d/raw', '[[1]]')).status).toBe(200);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
