import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, bodyText, forwardedUri, run } from './test-utils/index.ts';
import { all, createGateway, get, post, query, service, type GatewayBuilder, type Observer } from './index.ts';

const backend = 'http://127.0.0.1:9';
const failures: unknown[] = [];
const observer: Observer = { pipelineFailed: (event) => failures.push(event) };
const seen: Record<string, string>[] = [];

const gateway = createGateway({ observer })
  .mount(
    service({ name: 'files', prefix: '/files' }, [
      get('/readme', { to: '/static-readme' }),
      get('/{id}/meta', { to: '/meta/{id}' }),
      get('/{*rest}', { to: '/v1/store/{*rest}' }),
    ]),
    [backend],
  )
  .mount(service({ name: 'api', prefix: '/api' }, [all('/{*rest}')]), [backend])
  .mount(service({ name: 'nested', prefix: '/nested' }, [get('/v1/{*rest}', { to: '/{*rest}/meta?v=2' }), get('/v2/{*rest}')]), [backend])
  .mount(
    service({ name: 'hooked', prefix: '/hooked' }, [
      get('/{*rest}', {
        before: (ctx) => {
          seen.push({ ...ctx.params });
        },
      }),
    ]),
    [backend],
  )
  .mount(service({ name: 'docs', prefix: '/docs' }, [get('/{*page}')]), [backend])
  .build();

const uri = (url: string, method = 'GET'): Promise<string> => forwardedUri(gateway, `${method} ${url}`);

describe('catch-all {*rest}', () => {
  it('matches the rest of the path, one segment or more, and the prefix itself', () => {
    for (const url of ['/files', '/files/', '/files/a', '/files/a/b/c', '/files/a/b/']) {
      expect(gateway.match('GET', url)?.route).toEqual({ service: 'files', method: 'GET', path: '/files/{*rest}' });
    }
    expect(gateway.match('GET', '/filesystem')).toBeUndefined();
  });

  it('substitutes the tail with its encoding as sent, keeping a trailing slash where the tail ends `to`', async () => {
    expect(await uri('/files')).toBe('/v1/store');
    expect(await uri('/files/')).toBe('/v1/store/');
    expect(await uri('/files/a')).toBe('/v1/store/a');
    expect(await uri('/files/a/b/c?x=1&y=%2F')).toBe('/v1/store/a/b/c?x=1&y=%2F');
    expect(await uri('/files/a/b/')).toBe('/v1/store/a/b/');
    expect(await uri('/files/a%20b/caf%C3%A9/x+y@z:1')).toBe('/v1/store/a%20b/caf%C3%A9/x+y@z:1');
    // Not normalized as a {param} is (`%2B` stays, `%7e` is not decoded to `~`).
    expect(await uri('/files/a%2Bb/%7e')).toBe('/v1/store/a%2Bb/%7e');
  });

  it('percent-encodes what a path may not carry raw, and only that', async () => {
    expect(await uri('/files/"q"/a|b/{c}/a#b')).toBe('/v1/store/%22q%22/a%7Cb/%7Bc%7D/a%23b');
    expect(await uri('/files/café')).toBe('/v1/store/caf%C3%A9');
  });

  it('substitutes a tail in the middle of `to` without its trailing slash, before `to`s query', async () => {
    expect(await uri('/nested/v1/a/b')).toBe('/a/b/meta?v=2');
    expect(await uri('/nested/v1/a/b/?q=1')).toBe('/a/b/meta?v=2&q=1');
    expect(await uri('/nested/v1')).toBe('/meta?v=2');
    expect(await uri('/nested/v1/')).toBe('/meta?v=2');
  });

  it('without `to`, strips the prefix and keeps the tail', async () => {
    expect(await uri('/api')).toBe('/');
    expect(await uri('/api/')).toBe('/');
    expect(await uri('/api/users/42?expand=1')).toBe('/users/42?expand=1');
    expect(await uri('/api/users/')).toBe('/users/');
    expect(await uri('/api/a%2Bb/"x"')).toBe('/a%2Bb/%22x%22');
    expect(await uri('/nested/v2/a/b')).toBe('/v2/a/b');
    expect(await uri('/nested/v2')).toBe('/v2');
  });

  it('gives hooks the tail decoded per segment, without leading or trailing slash', async () => {
    seen.length = 0;
    for (const url of ['/hooked', '/hooked/', '/hooked/a%20b/c/', '/hooked/x']) asForward(await run(gateway, `GET ${url}`));
    expect(seen).toEqual([{ rest: '' }, { rest: '' }, { rest: 'a b/c' }, { rest: 'x' }]);
  });

  it('loses to static segments and parameters: most specific first', async () => {
    expect(await uri('/files/readme')).toBe('/static-readme');
    expect(await uri('/files/7/meta')).toBe('/meta/7');
    expect(await uri('/files/7/meta/more')).toBe('/v1/store/7/meta/more');
    expect(await uri('/files/readme/more')).toBe('/v1/store/readme/more');
    expect(gateway.match('GET', '/files/7/meta')?.route?.path).toBe('/files/{id}/meta');
  });

  it('answers 405 with Allow and an automatic OPTIONS for the methods it lacks', async () => {
    const refused = asRespond(await run(gateway, 'POST /docs/a/b'));
    expect(refused.response.status).toBe(405);
    expect(refused.error?.code).toBe('method_not_allowed');
    expect(refused.response.headers.allow).toBe('GET, HEAD, OPTIONS');
    const options = asRespond(await run(gateway, 'OPTIONS /docs'));
    expect(options.response).toEqual({ status: 204, headers: { allow: 'GET, HEAD, OPTIONS' }, body: null });
  });

  describe('refuses with 400 invalid_path, naming the parameter', () => {
    const refused = [
      ['/files/..', 'a dot-dot segment'],
      ['/files/a/%2e%2e/b', 'an encoded dot-dot segment'],
      ['/files/a/./b', 'a dot segment'],
      ['/files/..%2fetc', 'a dot-dot and an encoded slash'],
      ['/files/a%2f..%2fb', 'encoded slashes around a dot-dot'],
      ['/files/a%2Fb', 'an encoded slash'],
      ['/files/a%5cb', 'an encoded backslash'],
      ['/files/a\\b', 'a raw backslash'],
      ['/files/a%00b', 'an encoded NUL'],
      ['/files/%zz', 'malformed percent-encoding'],
      ['/files//evil.example/x', 'an empty first segment (a scheme-relative URL)'],
      ['/files/http://evil.example/x', 'an absolute URL'],
      ['/files/http:%2F%2Fevil.example', 'an absolute URL with encoded slashes'],
      ['/files/a//b', 'an empty segment'],
      ['/files/a//', 'two trailing slashes'],
      ['/api//evil.example', 'an empty segment on a route without `to`'],
      ['/api/a/../b', 'a dot-dot on a route without `to`'],
    ] as const;

    for (const [url, what] of refused) {
      it(`${what}: ${url}`, async () => {
        failures.length = 0;
        const plan = asRespond(await run(gateway, `GET ${url}`));
        expect(plan.response.status).toBe(400);
        expect(plan.error?.code).toBe('invalid_path');
        expect(plan.error?.details).toMatchObject({ param: 'rest' });
        expect(bodyText(plan.response)).toMatch(/^invalid_path: /);
        expect(failures).toHaveLength(1);
      });
    }

    it('at the root, where `//evil` would otherwise reach the upstream as a scheme-relative URL', async () => {
      const root = createGateway().mount(service({ name: 'root' }, [all('/{*rest}')]), [backend]).build();
      expect(await forwardedUri(root, 'GET /')).toBe('/');
      expect(await forwardedUri(root, 'DELETE /a/b?c')).toBe('/a/b?c');
      for (const url of ['//evil', '//evil.example/x', '/a//b']) {
        const plan = asRespond(await run(root, `GET ${url}`));
        expect(plan.response.status).toBe(400);
        expect(plan.error?.code).toBe('invalid_path');
      }
    });
  });
});

describe('all()', () => {
  const both = createGateway()
    .mount(
      service({ name: 's', prefix: '/s' }, [
        get('/x', { to: '/get-x' }),
        all('/x', { to: '/all-x' }),
        post('/only-post', { to: '/posted' }),
        query('/search', { to: '/searched' }),
      ]),
      [backend],
    )
    .build();

  it('answers every method, and a route of that one method on the same path wins', async () => {
    expect(await forwardedUri(both, 'GET /s/x')).toBe('/get-x');
    expect(await forwardedUri(both, 'HEAD /s/x')).toBe('/get-x');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'QUERY', 'PROPFIND', 'PURGE']) {
      const plan = asForward(await run(both, `${method} /s/x`));
      expect([plan.method, plan.uri, plan.route.method]).toEqual([method, '/all-x', '*']);
    }
  });

  it('forwards OPTIONS instead of answering it: preflights are the upstream’s', async () => {
    expect(await forwardedUri(both, 'OPTIONS /s/x')).toBe('/all-x');
    expect(both.match('OPTIONS', '/s/x')?.route).toEqual({ service: 's', method: '*', path: '/s/x' });
  });

  it('forwards a whole prefix in one line', async () => {
    const sales = createGateway()
      .mount(service({ name: 'sales', prefix: '/sales' }, [all('/{*rest}')]), ['http://127.0.0.1:9/base'])
      .build();
    expect(await forwardedUri(sales, 'PATCH /sales/orders/7?x=1')).toBe('/base/orders/7?x=1');
    expect(await forwardedUri(sales, 'GET /sales')).toBe('/base/');
    expect(sales.match('GET', '/salesfloor')).toBeUndefined();
  });

  it('is a duplicate when declared twice on one path', () => {
    const builder: GatewayBuilder<object> = createGateway().mount(service({ name: 'd' }, [all('/{*rest}'), all('/{*rest}')]), [backend]);
    expect(() => builder.build()).toThrow('[duplicate_route] service d * /{*rest}: another route already answers every method of /{*rest}');
  });
});

describe('query()', () => {
  const gatewayQ = createGateway()
    .mount(service({ name: 's', prefix: '/s' }, [query('/search', { to: '/searched' })]), [backend])
    .build();

  it('declares a QUERY route', async () => {
    const plan = asForward(await run(gatewayQ, 'QUERY /s/search?page=2'));
    expect([plan.method, plan.uri, plan.route.method]).toEqual(['QUERY', '/searched?page=2', 'QUERY']);
  });

  it('refuses other methods with 405 and an Allow that names QUERY', async () => {
    const plan = asRespond(await run(gatewayQ, 'GET /s/search'));
    expect(plan.response.status).toBe(405);
    expect(plan.error?.code).toBe('method_not_allowed');
    expect(plan.response.headers.allow).toBe('QUERY, OPTIONS');
  });
});
