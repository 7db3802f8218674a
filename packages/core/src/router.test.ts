import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, bodyText, run, testIO } from './test-utils/index.ts';
import { createGateway, del, get, head, options, post, service } from './index.ts';

const backend = 'http://127.0.0.1:9';

const gateway = createGateway()
  .mount(
    service({ name: 'items', prefix: '/items' }, [
      get('/new', { to: '/static-new' }),
      get('/{id}', { to: '/by-id/{id}' }),
      post('/{id}', { to: '/by-id/{id}' }),
      get('/new/edit', { to: '/static-new-edit' }),
      get('/{id}/view', { to: '/view/{id}' }),
      del('/{id}/view', { to: '/view/{id}' }),
      get('/mixed', { to: '/mixed-get' }),
      head('/mixed', { to: '/mixed-head' }),
      options('/cors', { to: '/cors-preflight' }),
    ]),
    [backend],
  )
  .mount(service({ name: 'root' }, [get('/', { to: '/home' })]), [backend])
  .build();

const uriOf = async (method: string, url: string): Promise<string> => asForward(await run(gateway, `${method} ${url}`)).uri;

describe('Router', () => {
  it('prefers a static segment over a parameter', async () => {
    expect(gateway.match('GET', '/items/new')?.route?.path).toBe('/items/new');
    expect(await uriOf('GET', '/items/new')).toBe('/static-new');
    expect(gateway.match('GET', '/items/42')?.route?.path).toBe('/items/{id}');
    expect(await uriOf('GET', '/items/42')).toBe('/by-id/42');
  });

  it('backtracks from a static segment to a parameter when the static branch has no match', async () => {
    // `/items/new/view`: the static `new` branch only has `edit`, so `{id}` = `new` answers.
    expect(gateway.match('GET', '/items/new/view')?.route?.path).toBe('/items/{id}/view');
    expect(await uriOf('GET', '/items/new/view')).toBe('/view/new');
    expect(await uriOf('GET', '/items/new/edit')).toBe('/static-new-edit');
  });

  it('ignores one trailing slash', async () => {
    expect(await uriOf('GET', '/items/new/')).toBe('/static-new');
    expect(await uriOf('GET', '/items/42/')).toBe('/by-id/42');
    expect(await uriOf('GET', '/items/42/view/')).toBe('/view/42');
  });

  it('refuses with 400 invalid_path a path with empty segments that names a route once they are merged', async () => {
    for (const path of ['//', '//items/new', '/items//new', '/items/new//', '/items///42//view', '//?a=1']) {
      const match = gateway.match('GET', path);
      expect(match).toBeDefined();
      const { response, error } = asRespond(await run(gateway, `GET ${path}`));
      expect(response.status).toBe(400);
      expect(error?.code).toBe('invalid_path');
      expect(error?.details).toMatchObject({ reason: 'empty path segment', path: path.split('?')[0] });
      expect(bodyText(response)).toContain('invalid_path');
    }
    // The route is named, for the response phases and the observer; nothing is forwarded.
    expect(gateway.match('GET', '/items//new')?.route?.path).toBe('/items/new');
  });

  it('refuses an empty segment before a path whose methods exclude the request with 400, not 405', async () => {
    const { response, error } = asRespond(await run(gateway, 'PUT /items//new'));
    expect(response.status).toBe(400);
    expect(error?.code).toBe('invalid_path');
  });

  it('leaves to the host app a path with empty segments that no route knows even merged', () => {
    expect(gateway.match('GET', '/items//')).toBeUndefined();
    expect(gateway.match('GET', '/elsewhere//x')).toBeUndefined();
    expect(gateway.match('GET', '/items/42/view/extra//')).toBeUndefined();
  });

  it('matches the root route for `/` only', async () => {
    expect(await uriOf('GET', '/')).toBe('/home');
    expect(await uriOf('GET', '/?a=1')).toBe('/home?a=1');
  });

  it('ignores the query when matching', () => {
    expect(gateway.match('GET', '/items/new?x=/y/z')?.route?.path).toBe('/items/new');
    const match = gateway.match('GET', '/items/42?x=1&y=2');
    expect(match).toMatchObject({ method: 'GET', path: '/items/42', query: 'x=1&y=2' });
  });

  it('answers HEAD with the GET route, keeping HEAD as the upstream method', async () => {
    const match = gateway.match('HEAD', '/items/42');
    expect(match?.route).toEqual({ service: 'items', method: 'GET', path: '/items/{id}' });
    const plan = asForward(await run(gateway, 'HEAD /items/42'));
    expect(plan.method).toBe('HEAD');
    expect(plan.uri).toBe('/by-id/42');
  });

  it('prefers an explicit HEAD route over the GET route', async () => {
    expect(await uriOf('HEAD', '/items/mixed')).toBe('/mixed-head');
    expect(await uriOf('GET', '/items/mixed')).toBe('/mixed-get');
  });

  it('refuses a method the path does not answer with 405, code method_not_allowed and an Allow list', async () => {
    const match = gateway.match('PUT', '/items/42');
    expect(match).toBeDefined();
    expect(match?.route).toBeUndefined();
    const plan = asRespond(await run(gateway, 'PUT /items/42'));
    expect(plan.error?.code).toBe('method_not_allowed');
    expect(plan.response.status).toBe(405);
    expect(plan.response.headers.allow).toBe('GET, POST, HEAD, OPTIONS');
    expect(plan.response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(bodyText(plan.response)).toBe('method_not_allowed: The method is not allowed for this resource.\n');

    const view = asRespond(await run(gateway, 'PATCH /items/42/view'));
    expect(view.response.status).toBe(405);
    expect(view.response.headers.allow).toBe('GET, DELETE, HEAD, OPTIONS');
  });

  it('answers OPTIONS on a path without an OPTIONS route with 204 and Allow', async () => {
    const plan = asRespond(await run(gateway, 'OPTIONS /items/42'));
    expect(plan.error).toBeUndefined();
    expect(plan.response).toEqual({ status: 204, headers: { allow: 'GET, POST, HEAD, OPTIONS' }, body: null });
    const mixed = asRespond(await run(gateway, 'OPTIONS /items/mixed'));
    // `{id}` matches `mixed` too, and answers POST there.
    expect(mixed.response.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('gives way to a less specific template when the more specific one lacks the method', async () => {
    expect(gateway.match('POST', '/items/new')?.route).toEqual({ service: 'items', method: 'POST', path: '/items/{id}' });
    expect(await uriOf('POST', '/items/new')).toBe('/by-id/new');
    expect(await uriOf('DELETE', '/items/new/view')).toBe('/view/new');
  });

  it('forwards OPTIONS when the path declares an OPTIONS route', async () => {
    expect(await uriOf('OPTIONS', '/items/cors')).toBe('/cors-preflight');
  });

  it('matches an absolute-form request target on its path and query', async () => {
    expect(gateway.match('GET', 'http://gateway.example/items/42')?.route?.path).toBe(gateway.match('GET', '/items/42')?.route?.path);
    expect(gateway.match('GET', 'HTTPS://gateway.example:8443/items/42?x=1')?.query).toBe('x=1');
    expect(gateway.match('GET', 'http://gateway.example')?.route?.path).toBe('/');
    expect(gateway.match('GET', 'ftp://gateway.example/items/42')).toBeUndefined();
    expect(gateway.match('GET', '*')).toBeUndefined();
  });

  it('returns undefined for a path no route answers, so the host app handles it', () => {
    expect(gateway.match('GET', '/nope')).toBeUndefined();
    expect(gateway.match('GET', '/items')).toBeUndefined();
    expect(gateway.match('GET', '/items/42/view/extra')).toBeUndefined();
    expect(gateway.match('GET', '/ITEMS/new')).toBeUndefined();
    expect(gateway.match('GET', '')).toBeUndefined();
    expect(gateway.match('GET', '*')).toBeUndefined();
    expect(gateway.match('OPTIONS', '*')).toBeUndefined();
  });

  it('matches static segments by their raw text, not their decoded form', () => {
    // `%6Eew` decodes to `new`, but only the parameter route may take an encoded segment.
    expect(gateway.match('GET', '/items/%6Eew')?.route?.path).toBe('/items/{id}');
    expect(gateway.match('GET', '/%69tems/new')).toBeUndefined();
  });

  it('returns a match that shows its route and nothing of the compiled pipeline', () => {
    const match = gateway.match('GET', '/items/42?x=1')!;
    expect(Object.keys(match).sort()).toEqual(['method', 'path', 'query', 'route']);
    expect({ ...match }).toEqual({ method: 'GET', path: '/items/42', query: 'x=1', route: { service: 'items', method: 'GET', path: '/items/{id}' } });
    expect(Object.getOwnPropertySymbols(match)).toEqual([]);
  });

  it('handles only what match() returned, not a look-alike object', () => {
    const lookalike = { ...gateway.match('GET', '/items/42')! };
    expect(() => gateway.handle(lookalike, testIO())).toThrow('gateway.handle() takes what gateway.match() returned');
  });

  it('passes the client address and headers through to the plan unchanged', async () => {
    const io = testIO({ Accept: 'text/html' }, '10.0.0.1');
    const plan = asForward(await run(gateway, 'GET /items/new', io));
    expect(plan.backend.url).toBe(backend);
    expect(io.headers.record).toEqual({ accept: 'text/html' });
  });
});
