import { describe, expect, it } from '@jest/globals';
import { createGateway, service, type Route } from '@apigate/core';
import { GatewayBuildError, GatewayError, forbidden, type BuildProblem } from '@apigate/errors';
import * as v from 'valibot';
import { z } from 'zod';
import { asForward, asRespond, bodyText, forwardedBody, run, testBody, testIO } from './test-utils/index.ts';
import { defineRoutes, get, post } from './index.ts';

type AppEnv = { state: { tenant: string }; scope: { user: { id: string } } };
const state = { tenant: 't1' };
const backend = 'http://127.0.0.1:9/base';
const { get: typedGet, post: typedPost } = defineRoutes<AppEnv>();

const gatewayWith = (routes: readonly Route<AppEnv>[], options: { bodyLimit?: number } = {}) =>
  createGateway({ state, renderer: 'json', ...options }).mount(service<AppEnv>({ name: 'app', prefix: '/app' }, routes), [backend]).build();

const jsonBody = (value: unknown, contentType = 'application/json') => testBody({ contentType, bytes: JSON.stringify(value) });
const formBody = (text: string, contentType = 'application/x-www-form-urlencoded') => testBody({ contentType, bytes: text });
const errorOf = (text: string): { code: string; message: string; status: number; issues?: unknown; issueCount?: number } =>
  (JSON.parse(text) as { error: { code: string; message: string; status: number } }).error;

const order = z.object({ sku: z.string(), qty: z.coerce.number().int().positive() });

describe('query', () => {
  const search = z.object({ q: z.string(), page: z.coerce.number().default(1) });

  it('validates the query and forwards the client query untouched without a map', async () => {
    const g = gatewayWith([get('/search', { query: search })]);
    const body = testBody({ contentType: 'text/plain', bytes: 'unread' });
    const plan = asForward(await run(g, 'GET', '/app/search?q=a+b&page=2&extra=1', testIO({ body })));
    expect(plan.uri).toBe('/base/search?q=a+b&page=2&extra=1');
    expect(plan.body).toBeUndefined();
    expect(plan.contentType).toBeUndefined();
    expect(body.reads).toEqual([]);
  });

  it("keeps the `to` query first when a hook rewrote the URI and the map replaces the client's query", async () => {
    const g = gatewayWith([
      get('/s', {
        to: '/find?api=1',
        query: z.object({ q: z.string() }),
        before: (ctx) => {
          ctx.uri = ctx.uri.replace('/find', '/v2/find');
        },
        map: ({ q }) => ({ q: q.toUpperCase() }),
      }),
    ]);
    expect(asForward(await run(g, 'GET', '/app/s?q=x')).uri).toBe('/base/v2/find?api=1&q=X');
  });

  it('refuses an invalid query with 422 and the issues found in the query', async () => {
    const g = gatewayWith([get('/search', { query: search })]);
    const plan = asRespond(await run(g, 'GET', '/app/search?page=x'));
    expect(plan.response.status).toBe(422);
    const error = errorOf(bodyText(plan.response));
    expect(error.code).toBe('validation_failed');
    expect(error.issues).toEqual([
      { in: 'query', path: ['q'], message: expect.any(String) },
      { in: 'query', path: ['page'], message: expect.any(String) },
    ]);
  });

  it.each([
    ['malformed percent-encoding', '/app/search?q=%E0%A4%A'],
    ['invalid UTF-8', '/app/search?q=%FF'],
    ['a __proto__ key', '/app/search?q=1&__proto__[admin]=1'],
  ])('refuses %s with 400 invalid_query', async (_name, url) => {
    const g = gatewayWith([get('/search', { query: search })]);
    const plan = asRespond(await run(g, 'GET', url));
    expect(plan.error?.code).toBe('invalid_query');
    expect(plan.response.status).toBe(400);
  });

  it('replaces the query with what the map returns, after the query of `to`', async () => {
    const g = gatewayWith([
      get('/search', {
        to: '/v2/find?api=1',
        query: search,
        map: ({ q, page }) => ({ term: q.toUpperCase(), offset: (page - 1) * 10, tag: ['x', 'y z'], none: undefined, nil: null }),
      }),
    ]);
    const plan = asForward(await run(g, 'GET', '/app/search?q=ab&page=3&secret=1'));
    expect(plan.uri).toBe('/base/v2/find?api=1&term=AB&offset=20&tag=x&tag=y+z');
    expect(plan.body).toBeUndefined();
  });

  it('leaves only the query of `to` when the map returns an empty record', async () => {
    const g = gatewayWith([get('/search', { to: '/find?api=1', query: search, map: () => ({}) }), get('/bare', { query: search, map: () => ({ x: null }) })]);
    expect(asForward(await run(g, 'GET', '/app/search?q=1')).uri).toBe('/base/find?api=1');
    expect(asForward(await run(g, 'GET', '/app/bare?q=1')).uri).toBe('/base/bare');
  });

  it('replaces the query of a URI a hook set', async () => {
    const g = gatewayWith([
      get('/search', {
        query: search,
        before: (ctx) => {
          ctx.uri = '/elsewhere?dropped=1';
        },
        map: ({ q }) => ({ q }),
      }),
    ]);
    expect(asForward(await run(g, 'GET', '/app/search?q=z')).uri).toBe('/base/elsewhere?q=z');
  });

  it('refuses with 500 internal a map that returns no object, or nested values', async () => {
    const notObject = get('/a', { query: search, map: (() => 'q=1') as never });
    const nested = get('/b', { query: search, map: (() => ({ a: { b: 1 } })) as never });
    const g = gatewayWith([notObject, nested]);
    for (const url of ['/app/a?q=1', '/app/b?q=1']) {
      const plan = asRespond(await run(g, 'GET', url));
      expect(plan.response.status).toBe(500);
      expect(plan.error?.code).toBe('internal');
    }
  });

  it('validates the query of a POST without touching its body', async () => {
    const g = gatewayWith([post('/events', { query: search })]);
    const body = jsonBody({ big: true });
    const plan = asForward(await run(g, 'POST', '/app/events?q=1', testIO({ body })));
    expect(plan.body).toBeUndefined();
    expect(body.reads).toEqual([]);
  });
});

describe('json', () => {
  it('reads and validates the body; without a map the plan carries the bytes read, unchanged', async () => {
    const g = gatewayWith([post('/orders', { json: order })]);
    const body = jsonBody({ sku: 'A1', qty: '2' });
    const io = testIO({ body });
    const plan = asForward(await run(g, 'POST', '/app/orders?x=1', io));
    expect(plan.uri).toBe('/base/orders?x=1');
    expect(forwardedBody(plan)).toBe('{"sku":"A1","qty":"2"}');
    expect(plan.contentType).toBe('application/json');
    // Read once, up to the default limit.
    expect(body.reads).toEqual([2 * 1024 * 1024]);
    expect(io.headers.record).toEqual({ 'content-type': 'application/json' });
  });

  it('sends what the map returns as JSON, with its content type', async () => {
    const g = gatewayWith([post('/orders', { json: order, map: ({ sku, qty }) => ({ item: sku, count: qty, at: null }) })]);
    const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A1', qty: '2', extra: 'dropped' }) })));
    expect(forwardedBody(plan)).toBe('{"item":"A1","count":2,"at":null}');
    expect(plan.contentType).toBe('application/json');
    expect(plan.uri).toBe('/base/orders');
  });

  it('accepts a +json type and a charset=UTF-8 parameter', async () => {
    const g = gatewayWith([post('/orders', { json: order })]);
    for (const type of ['application/vnd.api+json', 'APPLICATION/JSON; charset=UTF-8']) {
      asForward(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A', qty: 1 }, type) })));
    }
  });

  it.each([
    ['text/plain', 'text/plain', undefined],
    ['no content type', undefined, undefined],
    ['a latin1 charset', 'application/json; charset=latin1', undefined],
    ['a gzip Content-Encoding', 'application/json', 'gzip'],
  ])('refuses %s with 415 before reading the body', async (_name, contentType, encoding) => {
    const g = gatewayWith([post('/orders', { json: order })]);
    const body = testBody({ contentType, bytes: '{"sku":"A","qty":1}' });
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body, headers: encoding === undefined ? {} : { 'content-encoding': encoding } })));
    expect(plan.response.status).toBe(415);
    expect(plan.error?.code).toBe('unsupported_media_type');
    expect(body.reads).toEqual([]);
  });

  it.each([
    ['malformed JSON', '{"sku":'],
    ['an empty body', ''],
    ['a __proto__ key', '{"sku":"A","qty":1,"__proto__":{"admin":true}}'],
    ['nesting deeper than maxDepth', `{"sku":"A","qty":1,"x":${'['.repeat(200)}${']'.repeat(200)}}`],
  ])('refuses %s with 400 invalid_json', async (_name, text) => {
    const g = gatewayWith([post('/orders', { json: order })]);
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body: testBody({ contentType: 'application/json', bytes: text }) })));
    expect(plan.response.status).toBe(400);
    expect(plan.error?.code).toBe('invalid_json');
  });

  it('applies a route maxDepth', async () => {
    const g = gatewayWith([post('/shallow', { json: z.unknown(), maxDepth: 2 })]);
    asForward(await run(g, 'POST', '/app/shallow', testIO({ body: jsonBody([[1]]) })));
    expect(asRespond(await run(g, 'POST', '/app/shallow', testIO({ body: jsonBody([[[1]]]) }))).error?.message).toBe('The JSON body is nested deeper than 2 levels.');
  });

  it('refuses an invalid body with 422 listing the issues found in the json', async () => {
    const g = gatewayWith([post('/orders', { json: order })]);
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 1, qty: -1 }) })));
    expect(plan.response.status).toBe(422);
    expect(errorOf(bodyText(plan.response)).issues).toEqual([
      { in: 'json', path: ['sku'], message: expect.any(String) },
      { in: 'json', path: ['qty'], message: expect.any(String) },
    ]);
  });

  it('renders the issues with problem+json too', async () => {
    const g = createGateway({ renderer: 'problem' }).mount(service({ name: 'app', prefix: '/app' }, [post('/orders', { json: order })]), [backend]).build();
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A', qty: 0 }) })));
    expect(plan.response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(bodyText(plan.response))).toMatchObject({ status: 422, code: 'validation_failed', issues: [{ in: 'json', path: ['qty'] }] });
  });

  it('lists at most 100 issues with the total as issueCount', async () => {
    const g = gatewayWith([post('/numbers', { json: z.array(z.number()) })]);
    const plan = asRespond(await run(g, 'POST', '/app/numbers', testIO({ body: jsonBody(Array.from({ length: 1000 }, () => 'x')) })));
    const error = errorOf(bodyText(plan.response));
    expect(error.issues).toHaveLength(100);
    expect(error.issueCount).toBe(1000);
  });

  it('answers 422, not a crash, when a recursive schema overflows the stack on a deeply nested parsed body', async () => {
    type TreeNode = { child?: TreeNode | undefined };
    const tree: z.ZodType<TreeNode> = z.object({ child: z.lazy(() => tree).optional() });
    let value: TreeNode = {};
    for (let i = 0; i < 10_000; i++) value = { child: value };
    // The route allows the depth: only the validator's stack is at stake here.
    const g = gatewayWith([post('/tree', { json: tree, maxDepth: 20_000 })]);
    const plan = asRespond(await run(g, 'POST', '/app/tree', testIO({ body: testBody({ contentType: 'application/json', parsed: { value } }) })));
    expect(plan.response.status).toBe(422);
    expect(errorOf(bodyText(plan.response)).issues).toEqual([{ in: 'json', path: [], message: 'The input is nested too deeply to validate.' }]);
  });

  describe('a body a parser in front of the gateway already read', () => {
    it('is validated as it is, without read(); without a map nothing is replaced', async () => {
      const g = gatewayWith([post('/orders', { json: order })]);
      const body = testBody({ contentType: 'application/json', parsed: { value: { sku: 'A', qty: 3 } } });
      const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body })));
      expect(plan.body).toBeUndefined();
      expect(body.reads).toEqual([]);
    });

    it('is mapped and re-serialized with a map', async () => {
      const g = gatewayWith([post('/orders', { json: order, map: (input) => ({ ...input, source: 'parsed' }) })]);
      const body = testBody({ contentType: 'application/json', parsed: { value: { sku: 'A', qty: '3' } } });
      const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body })));
      expect(forwardedBody(plan)).toBe('{"sku":"A","qty":3,"source":"parsed"}');
      expect(plan.contentType).toBe('application/json');
      expect(body.reads).toEqual([]);
    });

    it('is parsed as JSON when the parser kept text or bytes (express.text(), express.raw())', async () => {
      const g = gatewayWith([post('/orders', { json: order, map: (input) => input })]);
      for (const raw of ['{"sku":"T","qty":1}', new TextEncoder().encode('{"sku":"T","qty":1}')]) {
        const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body: testBody({ contentType: 'application/json', parsed: { value: raw } }) })));
        expect(forwardedBody(plan)).toBe('{"sku":"T","qty":1}');
      }
      const bad = testBody({ contentType: 'application/json', parsed: { value: '{"sku":' } });
      expect(asRespond(await run(g, 'POST', '/app/orders', testIO({ body: bad }))).error?.code).toBe('invalid_json');
    });

    it('is refused with 400 invalid_json when it holds a __proto__ key', async () => {
      const g = gatewayWith([post('/orders', { json: z.unknown() })]);
      const value = JSON.parse('{"a":{"__proto__":{"admin":true}}}') as unknown;
      const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body: testBody({ contentType: 'application/json', parsed: { value } }) })));
      expect(plan.error?.code).toBe('invalid_json');
    });

    it('is refused with 400 invalid_json when nested deeper than maxDepth, as the same bytes unparsed would be', async () => {
      let value: unknown = 1;
      for (let i = 0; i < 200; i++) value = [value];
      const g = gatewayWith([post('/deep', { json: z.unknown() })]);
      const plan = asRespond(await run(g, 'POST', '/app/deep', testIO({ body: testBody({ contentType: 'application/json', parsed: { value } }) })));
      expect(plan.error?.code).toBe('invalid_json');
      expect(plan.error?.message).toBe('The JSON body is nested deeper than 128 levels.');
    });

    it('is accepted with a Content-Encoding the parser already inflated; an unparsed encoded body is refused', async () => {
      const g = gatewayWith([post('/orders', { json: order })]);
      const headers = { 'content-encoding': 'gzip' };
      const parsed = testBody({ contentType: 'application/json', parsed: { value: { sku: 'A', qty: 1 } } });
      asForward(await run(g, 'POST', '/app/orders', testIO({ body: parsed, headers })));
      const raw = testBody({ contentType: 'application/json', bytes: Uint8Array.from([0x1f, 0x8b]) });
      expect(asRespond(await run(g, 'POST', '/app/orders', testIO({ body: raw, headers }))).response.status).toBe(415);
      expect(raw.reads).toEqual([]);
    });

    it('is judged empty when declared empty (body-parser makes `{}` of nothing)', async () => {
      const g = gatewayWith([post('/orders', { json: z.object({}) })]);
      const body = testBody({ contentType: 'application/json', contentLength: 0, parsed: { value: {} } });
      const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body })));
      expect(plan.error?.code).toBe('invalid_json');
      expect(plan.error?.message).toBe('The request body is empty.');
    });

    it('is refused with 413 without read() when its declared length is over the limit', async () => {
      const g = gatewayWith([post('/orders', { json: order, limit: 10 })]);
      const body = testBody({ contentType: 'application/json', contentLength: 11, parsed: { value: { sku: 'A', qty: 1 } } });
      const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body })));
      expect(plan.response.status).toBe(413);
      expect(plan.error?.code).toBe('payload_too_large');
      expect(body.reads).toEqual([]);
    });
  });

  describe('body limit', () => {
    it('refuses a declared Content-Length over the limit with 413 before any byte is read', async () => {
      const g = gatewayWith([post('/orders', { json: z.unknown() })], { bodyLimit: 16 });
      const body = testBody({ contentType: 'application/json', contentLength: 17, bytes: '{"a":"0123456789"}' });
      const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body })));
      expect(plan.response.status).toBe(413);
      expect(plan.error?.details).toEqual({ limit: 16, declared: 17 });
      // read() was asked for at most the limit and refused on the declared length alone.
      expect(body.reads).toEqual([16]);
      expect(body.bytesRead).toBe(0);
    });

    it('refuses a chunked body that runs past the limit with 413', async () => {
      const g = gatewayWith([post('/orders', { json: z.unknown() })], { bodyLimit: 16 });
      const body = testBody({ contentType: 'application/json', contentLength: null, bytes: '{"a":"0123456789"}' });
      expect(asRespond(await run(g, 'POST', '/app/orders', testIO({ body }))).error?.code).toBe('payload_too_large');
    });

    it('uses the route limit over the gateway bodyLimit, either way', async () => {
      const text = JSON.stringify({ a: 'x'.repeat(100) });
      const g = gatewayWith(
        [post('/default', { json: z.unknown() }), post('/larger', { json: z.unknown(), limit: 1000 }), post('/smaller', { json: z.unknown(), limit: 20 })],
        { bodyLimit: 50 },
      );
      const send = async (path: string) => {
        const body = testBody({ contentType: 'application/json', bytes: text });
        const plan = await run(g, 'POST', path, testIO({ body }));
        return { kind: plan.kind, status: plan.kind === 'respond' ? plan.response.status : undefined, reads: body.reads };
      };
      expect(await send('/app/default')).toEqual({ kind: 'respond', status: 413, reads: [50] });
      expect(await send('/app/larger')).toEqual({ kind: 'forward', status: undefined, reads: [1000] });
      expect(await send('/app/smaller')).toEqual({ kind: 'respond', status: 413, reads: [20] });
    });

    it('defaults to 2 MiB', async () => {
      const g = gatewayWith([post('/orders', { json: z.unknown() })]);
      const body = testBody({ contentType: 'application/json', contentLength: 2 * 1024 * 1024 + 1, bytes: '{}' });
      expect(asRespond(await run(g, 'POST', '/app/orders', testIO({ body }))).response.status).toBe(413);
    });
  });

  it('refuses, without crashing, a body the adapter does not offer (the type is read from the body source)', async () => {
    const g = gatewayWith([post('/orders', { json: order })]);
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ headers: { 'content-type': 'application/json' } })));
    expect(plan.error?.code).toBe('unsupported_media_type');
  });

  it('refuses with 500 internal a map whose output JSON cannot represent', async () => {
    const g = gatewayWith([post('/undefined', { json: order, map: () => undefined }), post('/bigint', { json: order, map: () => ({ n: 1n }) })]);
    for (const path of ['/app/undefined', '/app/bigint']) {
      const plan = asRespond(await run(g, 'POST', path, testIO({ body: jsonBody({ sku: 'A', qty: 1 }) })));
      expect(plan.error?.code).toBe('internal');
    }
  });
});

describe('form', () => {
  const signup = z.object({ email: z.string().email(), tags: z.array(z.string()).default([]), age: z.coerce.number() });

  it('reads and validates an urlencoded body; without a map the plan carries the bytes read, unchanged', async () => {
    const g = gatewayWith([post('/signup', { form: signup })]);
    const body = formBody('email=a%40b.io&tags=x&tags=y&age=30');
    const plan = asForward(await run(g, 'POST', '/app/signup', testIO({ body })));
    expect(forwardedBody(plan)).toBe('email=a%40b.io&tags=x&tags=y&age=30');
    expect(plan.contentType).toBe('application/x-www-form-urlencoded');
    expect(body.reads).toEqual([2 * 1024 * 1024]);
  });

  it('sends what the map returns as a form, with its content type', async () => {
    const g = gatewayWith([post('/signup', { form: signup, map: ({ email, tags, age }) => ({ mail: email, tag: tags, adult: age >= 18 }) })]);
    const plan = asForward(await run(g, 'POST', '/app/signup', testIO({ body: formBody('email=a%40b.io&tags=x&tags=y+z&age=30') })));
    expect(forwardedBody(plan)).toBe('mail=a%40b.io&tag=x&tag=y+z&adult=true');
    expect(plan.contentType).toBe('application/x-www-form-urlencoded');
  });

  it('refuses with 422 in form', async () => {
    const g = gatewayWith([post('/signup', { form: signup })]);
    const plan = asRespond(await run(g, 'POST', '/app/signup', testIO({ body: formBody('email=nope&age=x') })));
    expect(errorOf(bodyText(plan.response)).issues).toEqual([
      { in: 'form', path: ['email'], message: expect.any(String) },
      { in: 'form', path: ['age'], message: expect.any(String) },
    ]);
  });

  it.each([
    ['invalid UTF-8 bytes', Uint8Array.from([0x61, 0x3d, 0xff])],
    ['invalid UTF-8 percent-encoded', 'a=%FF'],
    ['malformed percent-encoding', 'a=%'],
    ['a poisonous key', 'constructor[prototype][x]=1'],
  ])('refuses %s with 400 invalid_form', async (_name, bytes) => {
    const g = gatewayWith([post('/signup', { form: signup })]);
    const plan = asRespond(await run(g, 'POST', '/app/signup', testIO({ body: testBody({ contentType: 'application/x-www-form-urlencoded', bytes }) })));
    expect(plan.error?.code).toBe('invalid_form');
  });

  it('refuses a body that is not urlencoded with 415, unread', async () => {
    const g = gatewayWith([post('/signup', { form: signup })]);
    const body = jsonBody({ email: 'a@b.io' });
    expect(asRespond(await run(g, 'POST', '/app/signup', testIO({ body }))).response.status).toBe(415);
    expect(body.reads).toEqual([]);
  });

  it('validates a body a parser already read (express.urlencoded()), without read()', async () => {
    const g = gatewayWith([post('/signup', { form: signup, map: ({ email }) => ({ email }) })]);
    const body = testBody({ contentType: 'application/x-www-form-urlencoded', parsed: { value: { email: 'a@b.io', tags: ['x'], age: '3' } } });
    const plan = asForward(await run(g, 'POST', '/app/signup', testIO({ body })));
    expect(forwardedBody(plan)).toBe('email=a%40b.io');
    expect(body.reads).toEqual([]);
    const poisoned = testBody({ contentType: 'application/x-www-form-urlencoded', parsed: { value: JSON.parse('{"__proto__":{"x":1}}') as unknown } });
    expect(asRespond(await run(g, 'POST', '/app/signup', testIO({ body: poisoned }))).error?.code).toBe('invalid_form');
  });

  describe('on GET and HEAD', () => {
    it('reads the fields from the query string, never the body', async () => {
      const g = gatewayWith([get('/find', { form: signup })]);
      const body = formBody('email=body%40b.io&age=1');
      const plan = asForward(await run(g, 'GET', '/app/find?email=a%40b.io&age=30', testIO({ body })));
      expect(plan.uri).toBe('/base/find?email=a%40b.io&age=30');
      expect(plan.body).toBeUndefined();
      expect(body.reads).toEqual([]);
      const refused = asRespond(await run(g, 'GET', '/app/find?email=x'));
      expect(errorOf(bodyText(refused.response)).issues).toEqual([
        { in: 'form', path: ['email'], message: expect.any(String) },
        { in: 'form', path: ['age'], message: expect.any(String) },
      ]);
      expect(asRespond(await run(g, 'GET', '/app/find?email=%FF')).error?.code).toBe('invalid_form');
    });

    const headProbe = () => defineRoutes().head('/probe', { form: v.object({ n: v.pipe(v.string(), v.toNumber()) }), map: ({ n }) => ({ n: n + 1 }) });

    it('maps back to the query string', async () => {
      const g = gatewayWith([get('/find', { form: signup, map: ({ email, age }) => ({ who: email, age }) }), headProbe()]);
      const plan = asForward(await run(g, 'GET', '/app/find?email=a%40b.io&age=30&tags=q&tags=r'));
      expect(plan.uri).toBe('/base/find?who=a%40b.io&age=30');
      expect(plan.body).toBeUndefined();
      expect(plan.contentType).toBeUndefined();
      expect(asForward(await run(g, 'HEAD', '/app/probe?n=1')).uri).toBe('/base/probe?n=2');
    });
  });
});

describe('multipart', () => {
  it('checks the content type and streams the body through unread', async () => {
    const g = gatewayWith([post('/upload', { multipart: true })]);
    const body = testBody({ contentType: 'multipart/form-data; boundary=xyz', bytes: '--xyz--' });
    const plan = asForward(await run(g, 'POST', '/app/upload', testIO({ body })));
    expect(plan.body).toBeUndefined();
    expect(body.reads).toEqual([]);
  });

  it.each([
    ['without a boundary', 'multipart/form-data'],
    ['of another type', 'application/json'],
    ['with no content type', undefined],
  ])('refuses a body %s with 415, never reading it', async (_name, contentType) => {
    const g = gatewayWith([post('/upload', { multipart: true })]);
    const body = testBody({ contentType, bytes: '--xyz--' });
    const plan = asRespond(await run(g, 'POST', '/app/upload', testIO({ body })));
    expect(plan.response.status).toBe(415);
    expect(plan.error?.message).toBe('The request body must be multipart/form-data with a boundary.');
    expect(body.reads).toEqual([]);
  });
});

describe('path schema', () => {
  it('gives hooks and the map its output (id coerced to a number); the rewrite uses the raw segment', async () => {
    const seen: unknown[] = [];
    const g = gatewayWith([
      typedPost('/item/{id}/review', {
        to: '/reviews/{id}',
        path: z.object({ id: z.coerce.number().int() }),
        json: z.object({ stars: z.number() }),
        before: (ctx) => void seen.push(['hook', ctx.params.id, typeof ctx.params.id]),
        map: (input, ctx) => ({ ...input, item: ctx.params.id + 1 }),
      }),
    ]);
    const plan = asForward(await run(g, 'POST', '/app/item/0041/review', testIO({ body: jsonBody({ stars: 5 }) })));
    expect(seen).toEqual([['hook', 41, 'number']]);
    expect(plan.uri).toBe('/base/reviews/0041');
    expect(forwardedBody(plan)).toBe('{"stars":5,"item":42}');
  });

  it('refuses a parameter the schema rejects with 422 in path, before any hook or body read', async () => {
    let hooked = false;
    const g = gatewayWith([
      post('/item/{id}', { path: v.object({ id: v.pipe(v.string(), v.regex(/^\d+$/)) }), json: order, before: () => void (hooked = true) }),
    ]);
    const body = jsonBody({ sku: 'A', qty: 1 });
    const plan = asRespond(await run(g, 'POST', '/app/item/abc', testIO({ body })));
    expect(plan.response.status).toBe(422);
    expect(errorOf(bodyText(plan.response)).issues).toEqual([{ in: 'path', path: ['id'], message: expect.any(String) }]);
    expect(hooked).toBe(false);
    expect(body.reads).toEqual([]);
  });

  it('runs without a query or body kind', async () => {
    const g = gatewayWith([get('/user/{name}', { path: z.object({ name: z.string().toUpperCase() }), before: (ctx) => void ctx.headers.set('x-name', ctx.params.name) })]);
    const io = testIO();
    expect(asForward(await run(g, 'GET', '/app/user/al%20ice', io)).uri).toBe('/base/user/al%20ice');
    expect(io.headers.record['x-name']).toBe('AL ICE');
  });
});

describe('the map', () => {
  it('gets the app state and the scope values hooks set', async () => {
    const g = gatewayWith([
      typedPost('/orders', {
        json: order,
        before: (ctx) => ctx.set('user', { id: 'u7' }),
        map: (input, ctx) => ({ ...input, tenant: ctx.state.tenant, user: ctx.get('user')?.id, method: ctx.method, route: ctx.route.path }),
      }),
    ]);
    const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A', qty: 1 }) })));
    expect(JSON.parse(forwardedBody(plan)!)).toEqual({ sku: 'A', qty: 1, tenant: 't1', user: 'u7', method: 'POST', route: '/app/orders' });
  });

  it('replaces the body while a hook rewrites the URI', async () => {
    const g = gatewayWith([
      post('/orders', {
        json: order,
        before: (ctx) => {
          ctx.uri = '/v3/orders?src=hook';
        },
        map: (input) => ({ order: input }),
      }),
    ]);
    const plan = asForward(await run(g, 'POST', '/app/orders?x=1', testIO({ body: jsonBody({ sku: 'A', qty: 1 }) })));
    expect(plan.uri).toBe('/base/v3/orders?src=hook');
    expect(forwardedBody(plan)).toBe('{"order":{"sku":"A","qty":1}}');
  });

  it('is awaited when async', async () => {
    const g = gatewayWith([post('/orders', { json: order, map: async (input) => ({ ...input, late: await Promise.resolve(true) }) })]);
    const plan = asForward(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A', qty: 1 }) })));
    expect(forwardedBody(plan)).toBe('{"sku":"A","qty":1,"late":true}');
  });

  it('ends the request with a GatewayError it throws, rendered with its code', async () => {
    const g = gatewayWith([
      typedGet('/search', {
        query: z.object({ q: z.string() }),
        map: ({ q }) => {
          if (q === 'secret') throw forbidden('Not this one.');
          return { q };
        },
      }),
    ]);
    const plan = asRespond(await run(g, 'GET', '/app/search?q=secret'));
    expect(plan.response.status).toBe(403);
    expect(errorOf(bodyText(plan.response))).toEqual({ code: 'forbidden', message: 'Not this one.', status: 403 });
  });

  it('answers 500 internal when it throws a plain Error, keeping the cause out of the response', async () => {
    const boom = new Error('db password hunter2');
    const g = gatewayWith([
      post('/orders', {
        json: order,
        map: () => {
          throw boom;
        },
      }),
    ]);
    const plan = asRespond(await run(g, 'POST', '/app/orders', testIO({ body: jsonBody({ sku: 'A', qty: 1 }) })));
    expect(plan.response.status).toBe(500);
    expect(plan.error?.code).toBe('internal');
    expect(plan.error?.cause).toBe(boom);
    expect(bodyText(plan.response)).not.toContain('hunter2');
  });

  it('runs after the hooks: a hook that refuses leaves the body unread', async () => {
    let mapped = false;
    const g = gatewayWith([
      post('/orders', {
        json: order,
        before: () => new GatewayError('unauthorized'),
        map: (input) => {
          mapped = true;
          return input;
        },
      }),
    ]);
    const body = jsonBody({ sku: 'A', qty: 1 });
    expect(asRespond(await run(g, 'POST', '/app/orders', testIO({ body }))).response.status).toBe(401);
    expect(body.reads).toEqual([]);
    expect(mapped).toBe(false);
  });
});

describe('build()', () => {
  // As a JavaScript user (or one casting past the compile errors) would write them.
  const untypedPost = post as unknown as (path: string, options: Record<string, unknown>) => Route;
  const problemsOf = (routes: readonly Route[], options: { bodyLimit?: number } = {}): BuildProblem[] => {
    try {
      createGateway(options).mount(service({ name: 'app', prefix: '/app' }, routes), [backend]).build();
    } catch (error) {
      if (error instanceof GatewayBuildError) return [...error.problems];
      throw error;
    }
    throw new Error('build() accepted the routes');
  };
  const at = 'service app POST /x';

  it('refuses two kinds on one route', () => {
    expect(problemsOf([untypedPost('/x', { query: z.object({}), json: z.object({}), multipart: true })])).toEqual([
      { code: 'invalid_option', at, message: 'only one of query, json, form and multipart per route, got query, json, multipart' },
    ]);
  });

  it('refuses a map without a kind, and a map with multipart', () => {
    expect(problemsOf([untypedPost('/x', { map: (input: unknown) => input })])).toEqual([{ code: 'invalid_option', at, message: 'map needs one of query, json or form to map' }]);
    expect(problemsOf([untypedPost('/x', { path: z.object({}), map: (input: unknown) => input })])).toEqual([
      { code: 'invalid_option', at, message: 'map needs one of query, json or form to map' },
    ]);
    expect(problemsOf([untypedPost('/x', { multipart: true, map: (input: unknown) => input })])).toEqual([
      { code: 'invalid_option', at, message: 'map is not allowed with multipart: the body is streamed, never read' },
    ]);
  });

  it('refuses a map that is not a function', () => {
    expect(problemsOf([untypedPost('/x', { json: z.object({}), map: { a: 1 } })])).toEqual([{ code: 'invalid_option', at, message: 'map must be a function' }]);
  });

  it('refuses values that are not Standard Schema validators', () => {
    expect(problemsOf([untypedPost('/x', { path: { id: 'number' }, json: JSON, form: 'schema' })]).map((p) => p.message)).toEqual([
      'only one of query, json, form and multipart per route, got json, form',
      'path must be a Standard Schema validator (zod, valibot, arktype, ...)',
      'json must be a Standard Schema validator (zod, valibot, arktype, ...)',
      'form must be a Standard Schema validator (zod, valibot, arktype, ...)',
    ]);
  });

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '1024'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('refuses a %s limit or maxDepth', (_name, value) => {
    expect(problemsOf([untypedPost('/x', { json: z.object({}), limit: value, maxDepth: value })])).toEqual([
      { code: 'invalid_option', at, message: `limit must be a positive whole number, got ${String(value)}` },
      { code: 'invalid_option', at, message: `maxDepth must be a positive whole number, got ${String(value)}` },
    ]);
  });

  it('refuses a multipart option that is not a boolean', () => {
    expect(problemsOf([untypedPost('/x', { multipart: 'yes' })])).toEqual([{ code: 'invalid_option', at, message: 'multipart must be true or false, got yes' }]);
  });

  it('lists the problems of every route at once, next to core problems', () => {
    const problems = problemsOf([untypedPost('/x', { json: z.object({}), form: z.object({}) }), untypedPost('/y', { map: () => ({}), limit: 0 })], { bodyLimit: -1 });
    expect(problems.map((p) => `${p.code} @ ${p.at}`)).toEqual([
      'invalid_option @ service app POST /x',
      'invalid_option @ service app POST /y',
      'invalid_option @ service app POST /y',
      'invalid_option @ bodyLimit',
    ]);
  });

  it('accepts a route with multipart: false and nothing else as a plain route', () => {
    const route = untypedPost('/x', { multipart: false });
    expect(route.input).toBeUndefined();
    expect(problemsOf([route, untypedPost('/x', {})])).toEqual([{ code: 'duplicate_route', at, message: 'another route already answers POST /app/x' }]);
  });
});
