import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, bodyText, forwardedUri, run } from './test-utils/index.ts';
import { createGateway, get, service, type Observer } from './index.ts';

const sales = service({ name: 'sales', prefix: '/sales' }, [
  get('/'),
  get('/ping'),
  get('/raw/{id}'),
  get('/public', { to: '/internal' }),
  get('/search', { to: '/find?source=gateway&v=2' }),
  get('/item/{id}/review', { to: '/api/v2/reviews/{id}' }),
  get('/pair/{a}/{b}', { to: '/swap/{b}/x/{a}' }),
]);

const gateway = createGateway().mount(sales, ['http://127.0.0.1:9']).build();
const uri = (url: string): Promise<string> => forwardedUri(gateway, `GET ${url}`);

describe('rewrites', () => {
  it('strips the service prefix when the route has no `to`', async () => {
    expect(await uri('/sales/ping')).toBe('/ping');
    expect(await uri('/sales/ping/')).toBe('/ping/');
  });

  it('rewrites the bare prefix to `/`', async () => {
    expect(await uri('/sales')).toBe('/');
    expect(await uri('/sales/')).toBe('/');
    expect(await uri('/sales?x=1')).toBe('/?x=1');
  });

  it('keeps the raw (still encoded) path of a route without `to`', async () => {
    expect(await uri('/sales/raw/a%20b')).toBe('/raw/a%20b');
  });

  it('replaces the path with a static `to`', async () => {
    expect(await uri('/sales/public')).toBe('/internal');
  });

  it('substitutes template parameters, percent-encoded per segment', async () => {
    expect(await uri('/sales/item/42/review')).toBe('/api/v2/reviews/42');
    expect(await uri('/sales/item/a%20b/review')).toBe('/api/v2/reviews/a%20b');
    expect(await uri('/sales/item/caf%C3%A9/review')).toBe('/api/v2/reviews/caf%C3%A9');
    expect(await uri('/sales/item/café/review')).toBe('/api/v2/reviews/caf%C3%A9');
    expect(await uri('/sales/item/a+b/review')).toBe('/api/v2/reviews/a%2Bb');
    expect(await uri('/sales/item/x:y@z;w=1/review')).toBe('/api/v2/reviews/x%3Ay%40z%3Bw%3D1');
    expect(await uri('/sales/item/%3Fq%3D1%23f/review')).toBe('/api/v2/reviews/%3Fq%3D1%23f');
    expect(await uri('/sales/pair/1/2')).toBe('/swap/2/x/1');
  });

  it('preserves the client query', async () => {
    expect(await uri('/sales/ping?a=1&b=%20')).toBe('/ping?a=1&b=%20');
    expect(await uri('/sales/public?page=2')).toBe('/internal?page=2');
    expect(await uri('/sales/item/42/review?sort=desc')).toBe('/api/v2/reviews/42?sort=desc');
    expect(await uri('/sales/ping?')).toBe('/ping');
  });

  it("merges a `to`'s own query before the client's", async () => {
    expect(await uri('/sales/search')).toBe('/find?source=gateway&v=2');
    expect(await uri('/sales/search?q=shoes')).toBe('/find?source=gateway&v=2&q=shoes');
  });

  it("prefixes the backend's base path", async () => {
    const based = createGateway().mount(sales, ['http://127.0.0.1:9/base/']).build();
    expect(await forwardedUri(based, 'GET /sales/ping')).toBe('/base/ping');
    expect(await forwardedUri(based, 'GET /sales/item/7/review?x=1')).toBe('/base/api/v2/reviews/7?x=1');
    expect(await forwardedUri(based, 'GET /sales')).toBe('/base/');
    const deep = createGateway().mount(sales, ['http://127.0.0.1:9/a/b']).build();
    expect(await forwardedUri(deep, 'GET /sales/public')).toBe('/a/b/internal');
  });

  it('cuts a prefix by its segments, whatever slashes it was declared with', async () => {
    for (const prefix of ['/sales/', '//sales', '/sales///']) {
      const g = createGateway()
        .mount(service({ name: 's', prefix }, [get('/ping'), get('/')]), ['http://127.0.0.1:9'])
        .build();
      expect(await forwardedUri(g, 'GET /sales/ping')).toBe('/ping');
      expect(await forwardedUri(g, 'GET /sales')).toBe('/');
    }
    const nested = createGateway()
      .mount(service({ name: 's', prefix: '/api//v1' }, [get('/ping')]), ['http://127.0.0.1:9'])
      .build();
    expect(await forwardedUri(nested, 'GET /api/v1/ping')).toBe('/ping');
  });

  it('forwards to the whole path when the service has no prefix', async () => {
    const g = createGateway().mount(service({ name: 'all' }, [get('/a/b'), get('/')]), ['http://127.0.0.1:9']).build();
    expect(await forwardedUri(g, 'GET /a/b?c=d')).toBe('/a/b?c=d');
    expect(await forwardedUri(g, 'GET /')).toBe('/');
  });
});

describe('parameter refusal', () => {
  const failures: unknown[] = [];
  const observer: Observer = { pipelineFailed: (event) => failures.push(event) };
  const guarded = createGateway({ observer })
    .mount(
      service({ name: 'files', prefix: '/files' }, [get('/{name}', { to: '/store/{name}' }), get('/raw/{name}'), get('/{dir}/{name}', { to: '/store/{dir}/{name}' })]),
      ['http://127.0.0.1:9'],
    )
    .build();

  const refused = [
    ['..', '..'],
    ['.', '.'],
    ['%2e%2e', 'an encoded dot-dot'],
    ['%2E%2E', 'an upper-case encoded dot-dot'],
    ['.%2e', 'a half-encoded dot-dot'],
    ['%2e', 'an encoded dot'],
    ['a%2Fb', 'an encoded slash'],
    ['..%2Fadmin', 'an encoded slash after dot-dot'],
    ['a%2fb', 'a lower-case encoded slash'],
    ['a%5Cb', 'an encoded backslash'],
    ['a\\b', 'a raw backslash'],
    ['a%00b', 'an encoded NUL'],
  ] as const;

  for (const [raw, what] of refused) {
    it(`refuses ${what} (${raw}) in a parameter with 400 invalid_path`, async () => {
      for (const url of [`/files/${raw}`, `/files/raw/${raw}`, `/files/dir/${raw}`, `/files/${raw}/name`]) {
        const plan = asRespond(await run(guarded, `GET ${url}`));
        expect(plan.response.status).toBe(400);
        expect(plan.error?.code).toBe('invalid_path');
        expect(bodyText(plan.response)).toBe('invalid_path: The request path is not allowed.\n');
      }
    });
  }

  it('refuses malformed percent-encoding with 400 invalid_path and keeps the decoder error as the cause', async () => {
    for (const raw of ['%E0%A4%A', '%', '%zz', '%C3']) {
      const plan = asRespond(await run(guarded, `GET /files/${raw}`));
      expect(plan.response.status).toBe(400);
      expect(plan.error?.code).toBe('invalid_path');
      expect(plan.error?.message).toBe('The request path has malformed percent-encoding.');
      expect(plan.error?.cause).toBeInstanceOf(URIError);
      expect(plan.error?.details).toEqual({ param: 'name', raw });
    }
  });

  it('reports a refused parameter to the observer as a pipeline failure', async () => {
    failures.length = 0;
    await run(guarded, 'GET /files/%2e%2e');
    expect(failures).toEqual([
      { id: expect.any(Number), route: { service: 'files', method: 'GET', path: '/files/{name}' }, method: 'GET', path: '/files/%2e%2e', error: expect.objectContaining({ code: 'invalid_path' }) },
    ]);
  });

  it('accepts dots, encoded characters and unicode that stay inside one segment', async () => {
    expect(asForward(await run(guarded, 'GET /files/...')).uri).toBe('/store/...');
    expect(asForward(await run(guarded, 'GET /files/.env')).uri).toBe('/store/.env');
    expect(asForward(await run(guarded, 'GET /files/a..b')).uri).toBe('/store/a..b');
    expect(asForward(await run(guarded, 'GET /files/%E2%9C%93')).uri).toBe('/store/%E2%9C%93');
  });
});
