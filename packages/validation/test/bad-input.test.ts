import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, service } from '@apigate/core';
import { z } from 'zod';
import { get, post } from '../src/index.ts';
import { parseHead, postJson, rawExchange, send, startGateway, startUpstream, type GatewayApp, type Reply, type Upstream } from './helpers.ts';

const MiB = 1024 * 1024;

const loose = z.record(z.string(), z.unknown());
const api = service({ name: 'api', prefix: '/api' }, [
  post('/any', { json: z.unknown() }),
  post('/numbers', { json: z.object({ values: z.array(z.number()) }) }),
  post('/numbers-capped', { json: z.object({ values: z.array(z.number()).max(1000) }) }),
  post('/small', { json: z.unknown(), limit: 1024 }),
  get('/query', { query: z.object({ a: z.union([z.string(), z.array(z.string())]).optional() }).catchall(z.unknown()) }),
  get('/query-mapped', { query: loose, map: (q) => ({ ...(q as Record<string, string | string[]>), seen: 'yes' }) }),
  post('/form', { form: loose }),
]);

const codeOf = (reply: Reply): string => reply.json<{ error: { code: string } }>().error.code;

describe('bad input through Express is refused before the upstream', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(createGateway({ renderer: 'json' }).mount(api, [upstream.origin]).build());
  });

  beforeEach(() => {
    upstream.seen.length = 0;
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  const refused = async (reply: Reply, status: number, code: string): Promise<void> => {
    expect({ status: reply.status, code: codeOf(reply) }).toEqual({ status, code });
    expect(upstream.seen).toHaveLength(0);
    // Still serving: the failure broke nothing.
    expect((await send(gateway.port, '/api/query?a=1')).status).toBe(200);
    upstream.seen.length = 0;
  };

  describe('json bodies', () => {
    it.each([
      ['malformed JSON', Buffer.from('{"a":')],
      ['an empty body', Buffer.alloc(0)],
      ['a whitespace-only body', Buffer.from(' \r\n ')],
      ['a byte order mark', Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"a":1}')])],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])],
      ['10 000 levels of nesting', Buffer.from(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)],
      ['10 000 levels of object nesting', Buffer.from(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`)],
    ])('refuses %s with 400 invalid_json', async (_name, body) => {
      await refused(await postJson(gateway.port, '/api/any', body), 400, 'invalid_json');
    });

    it.each([
      ['text/plain', 'text/plain'],
      ['no content type', undefined],
      ['a JSON lookalike', 'application/jsonp'],
      ['JSON in latin1', 'application/json; charset=iso-8859-1'],
    ])('refuses %s with 415 unsupported_media_type', async (_name, contentType) => {
      const headers = contentType === undefined ? {} : { 'content-type': contentType };
      await refused(await send(gateway.port, '/api/any', { method: 'POST', headers, body: '{"a":1}' }), 415, 'unsupported_media_type');
    });

    it('refuses a gzipped JSON body (nothing inflated it) with 415 unsupported_media_type', async () => {
      const reply = await send(gateway.port, '/api/any', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{"a":1}') });
      await refused(reply, 415, 'unsupported_media_type');
    });

    it('accepts a 1.5 MiB array of numbers within the limit and forwards it whole', async () => {
      const body = Buffer.from(JSON.stringify({ values: Array.from({ length: 200_000 }, (_, i) => i * 1.5) }).padEnd(1.5 * MiB, ' '));
      expect(body.byteLength).toBe(1.5 * MiB);
      const reply = await postJson(gateway.port, '/api/numbers', body);
      expect(reply.status).toBe(200);
      expect(upstream.last().body.equals(body)).toBe(true);
    });

    it('refuses a 1.5 MiB array with 422 when the schema caps its length, listing at most 100 issues', async () => {
      const body = Buffer.from(JSON.stringify({ values: Array.from({ length: 300_000 }, (_, i) => (i % 2 === 0 ? i : 'x')) }));
      expect(body.byteLength).toBeGreaterThan(MiB);
      const reply = await postJson(gateway.port, '/api/numbers-capped', body);
      expect(reply.status).toBe(422);
      const error = reply.json<{ error: { code: string; issues: unknown[] } }>().error;
      expect(error.code).toBe('validation_failed');
      expect(error.issues.length).toBeGreaterThan(0);
      expect(error.issues.length).toBeLessThanOrEqual(100);
      expect(reply.text.length).toBeLessThan(64 * 1024);
      expect(upstream.seen).toHaveLength(0);
    });

    it('refuses a body over the limit with 413 as soon as its Content-Length is declared, reading none of it', async () => {
      // Only the head is sent: the answer must come without the body, and the connection closes.
      const head = 'POST /api/any HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n';
      const exchange = await rawExchange(gateway.port, head);
      const { status, headers, body } = parseHead(exchange.text);
      expect(status).toBe(413);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(headers.connection).toBe('close');
      expect(exchange.closedByServer).toBe(true);
      expect(upstream.seen).toHaveLength(0);
    });

    it("refuses a declared body over a route's own limit with 413", async () => {
      await refused(await postJson(gateway.port, '/api/small', Buffer.from(`[${'1,'.repeat(600)}1]`)), 413, 'payload_too_large');
    });

    it('cuts a chunked body at the limit with 413 and closes the connection', async () => {
      const head = 'POST /api/small HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
      // 4 KiB in chunks, no terminating chunk: the gateway must answer without waiting for the end.
      const chunk = `400\r\n${' '.repeat(1024)}\r\n`;
      const exchange = await rawExchange(gateway.port, head, { body: Buffer.from(`${chunk.repeat(4)}`) });
      const { status, headers, body } = parseHead(exchange.text);
      expect(status).toBe(413);
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'payload_too_large' } });
      expect(headers.connection).toBe('close');
      expect(exchange.closedByServer).toBe(true);
      expect(upstream.seen).toHaveLength(0);
    });

    it('cuts a chunked body over the default 2 MiB limit', async () => {
      const head = 'POST /api/any HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
      const piece = Buffer.from(`10000\r\n${' '.repeat(0x10000)}\r\n`);
      const exchange = await rawExchange(gateway.port, head, { body: Buffer.concat(Array.from({ length: 40 }, () => piece)) });
      expect(parseHead(exchange.text).status).toBe(413);
      expect(exchange.closedByServer).toBe(true);
      expect(upstream.seen).toHaveLength(0);
    });
  });

  describe('query strings', () => {
    it.each([
      ['a repeated key as an array', 'a=1&a=2'],
      ['an empty key', '=x'],
      ['a key without a value', 'a'],
      ['bracket notation as a plain key', 'a[b]=c'],
      ['empty pairs', '&&a=1&'],
    ])('passes %s on byte for byte', async (_name, query) => {
      const reply = await send(gateway.port, `/api/query?${query}`);
      expect(reply.status).toBe(200);
      expect(upstream.last().url).toBe(`/query?${query}`);
    });

    it('maps odd keys as flat keys', async () => {
      const reply = await send(gateway.port, '/api/query-mapped?a=1&a=2&=x&b&c[d]=e');
      expect(reply.status).toBe(200);
      expect(upstream.last().url).toBe('/query-mapped?a=1&a=2&=x&b=&c%5Bd%5D=e&seen=yes');
    });

    it('refuses malformed percent-encoding with 400 invalid_query', async () => {
      await refused(await send(gateway.port, '/api/query?a=%E0%A4%A'), 400, 'invalid_query');
      await refused(await send(gateway.port, '/api/query?a=%FF'), 400, 'invalid_query');
    });
  });

  describe('prototype pollution', () => {
    afterAll(() => {
      // The gateway runs in this process: one check covers the test and the gateway.
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it.each([
      ['__proto__', '{"__proto__":{"polluted":1}}'],
      ['a nested __proto__', '{"a":[{"b":{"__proto__":{"polluted":1}}}]}'],
      ['an escaped __proto__', '{"\\u005f_proto__":{"polluted":1}}'],
      ['constructor.prototype', '{"constructor":{"prototype":{"polluted":1}}}'],
    ])('refuses %s in JSON with 400 invalid_json', async (_name, body) => {
      await refused(await postJson(gateway.port, '/api/any', body), 400, 'invalid_json');
    });

    it.each([
      ['__proto__', '__proto__[polluted]=1'],
      ['a bracketed __proto__', 'a[__proto__][polluted]=1'],
      ['a dotted __proto__', 'a.__proto__.polluted=1'],
      ['constructor[prototype]', 'constructor[prototype][polluted]=1'],
      ['an encoded __proto__', '%5F%5Fproto%5F%5F%5Bpolluted%5D=1'],
    ])('refuses %s in a query with 400 invalid_query', async (_name, query) => {
      await refused(await send(gateway.port, `/api/query?${query}`), 400, 'invalid_query');
      await refused(await send(gateway.port, `/api/query-mapped?${query}`), 400, 'invalid_query');
    });

    it.each([
      ['__proto__', '__proto__[polluted]=1'],
      ['constructor[prototype]', 'constructor[prototype][polluted]=1'],
      ['an encoded key', 'x=1&%5F%5Fproto%5F%5F.polluted=1'],
    ])('refuses %s in a form with 400 invalid_form', async (_name, body) => {
      await refused(await send(gateway.port, '/api/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }), 400, 'invalid_form');
    });
  });

  describe('form bodies', () => {
    it.each([
      ['malformed percent-encoding', 'a=%ZZ'],
      ['invalid UTF-8', 'a=%C3%28'],
    ])('refuses %s with 400 invalid_form', async (_name, body) => {
      await refused(await send(gateway.port, '/api/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }), 400, 'invalid_form');
    });

    it('refuses raw invalid UTF-8 bytes with 400 invalid_form', async () => {
      const body = Buffer.from([0x61, 0x3d, 0xff]);
      await refused(await send(gateway.port, '/api/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }), 400, 'invalid_form');
    });

    it('refuses JSON sent to a form route with 415', async () => {
      await refused(await postJson(gateway.port, '/api/form', '{"a":1}'), 415, 'unsupported_media_type');
    });
  });
});

describe("the gateway's bodyLimit", () => {
  it("refuses bodies over it with 413, unless a route's own limit is larger", async () => {
    const upstream = await startUpstream();
    const limited = service({ name: 'l', prefix: '/l' }, [post('/default', { json: z.unknown() }), post('/larger', { json: z.unknown(), limit: 4096 })]);
    const gateway = await startGateway(createGateway({ renderer: 'json', bodyLimit: 100 }).mount(limited, [upstream.origin]).build());
    try {
      const body = JSON.stringify({ text: 'x'.repeat(200) });
      const refused = await postJson(gateway.port, '/l/default', body);
      expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 413, code: 'payload_too_large' });
      expect(upstream.seen).toHaveLength(0);
      expect((await postJson(gateway.port, '/l/default', '{"small":true}')).status).toBe(200);
      expect((await postJson(gateway.port, '/l/larger', body)).status).toBe(200);
      expect(upstream.last().body.toString('utf8')).toBe(body);
    } finally {
      await gateway.close();
      await upstream.close();
    }
  });
});
