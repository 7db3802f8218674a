import { GatewayError, forbidden, isGatewayError, json, respond, unauthorized } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, bodyText, run, testIO } from './test-utils/index.ts';
import { createGateway, defineRoutes, service, type Hook, type Observer } from './index.ts';

type AppEnv = { state: { greeting: string; keys: ReadonlySet<string> }; scope: { user: { id: string; admin: boolean }; trace: string[] } };
const { get, post } = defineRoutes<AppEnv>();
const state = { greeting: 'hello', keys: new Set(['k1']) };
const backend = 'http://127.0.0.1:9/base';

const gatewayWith = (routes: Parameters<typeof service<AppEnv>>[1], renderer?: 'text' | 'json' | 'problem', observer?: Observer) =>
  createGateway({ state, renderer, observer }).mount(service({ name: 'app', prefix: '/app' }, routes), [backend]).build();

describe('hooks', () => {
  it('run in declaration order, awaiting async hooks, before the request goes upstream', async () => {
    const calls: string[] = [];
    const g = gatewayWith([
      get('/order', {
        before: [
          () => void calls.push('first'),
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            calls.push('second (async)');
          },
          () => void calls.push('third'),
        ],
      }),
    ]);
    const plan = g.handle(g.match('GET', '/app/order')!, testIO());
    expect(plan).toBeInstanceOf(Promise);
    expect(asForward(await plan).uri).toBe('/base/order');
    expect(calls).toEqual(['first', 'second (async)', 'third']);
  });

  it('accepts a single hook as well as a list', async () => {
    let ran = false;
    const g = gatewayWith([get('/one', { before: () => void (ran = true) })]);
    asForward(await run(g, 'GET /app/one'));
    expect(ran).toBe(true);
  });

  it('read, set and delete the headers that go upstream, case-insensitively', async () => {
    const g = gatewayWith([
      get('/headers', {
        before: (ctx) => {
          expect(ctx.headers.get('Authorization')).toBe('Bearer t');
          expect(ctx.headers.has('cookie')).toBe(true);
          expect(ctx.headers.get('x-missing')).toBeUndefined();
          ctx.headers.set('X-User', 'u1');
          ctx.headers.delete('Cookie');
        },
      }),
    ]);
    const io = testIO({ authorization: 'Bearer t', Cookie: 'sid=1' });
    asForward(await run(g, 'GET /app/headers', io));
    expect(io.headers.record).toEqual({ authorization: 'Bearer t', 'x-user': 'u1' });
  });

  it('see decoded, typed path params and the request details', async () => {
    const seen: unknown[] = [];
    const g = gatewayWith([
      get('/users/{userId}/posts/{postId}', {
        before: (ctx) => {
          seen.push({ ...ctx.params }, ctx.method, ctx.path, ctx.query, ctx.clientIp, ctx.route, ctx.uri);
        },
      }),
    ]);
    await run(g, 'GET /app/users/a%20b/posts/7?x=1', testIO({}, '10.1.2.3'));
    expect(seen).toEqual([
      { userId: 'a b', postId: '7' },
      'GET',
      '/app/users/a%20b/posts/7',
      'x=1',
      '10.1.2.3',
      { service: 'app', method: 'GET', path: '/app/users/{userId}/posts/{postId}' },
      '/users/a%20b/posts/7?x=1',
    ]);
  });

  it('read the app state given to createGateway', async () => {
    let seen: unknown;
    const g = gatewayWith([get('/state', { before: (ctx) => void (seen = ctx.state) })]);
    await run(g, 'GET /app/state');
    expect(seen).toBe(state);
    expect(g.state).toBe(state);
  });

  it('share per-request scope values across hooks, and no further', async () => {
    const seen: unknown[] = [];
    const g = gatewayWith([
      get('/scope', {
        before: [
          (ctx) => {
            seen.push(ctx.get('user'));
            ctx.set('user', { id: ctx.headers.get('x-user-id') ?? 'anon', admin: false });
            ctx.set('trace', ['a']);
          },
          (ctx) => {
            ctx.get('trace')?.push('b');
            ctx.set('user', { ...ctx.get('user')!, admin: true });
          },
          (ctx) => {
            seen.push(ctx.get('user'), ctx.get('trace'));
          },
        ],
      }),
    ]);
    await run(g, 'GET /app/scope', testIO({ 'x-user-id': 'u7' }));
    expect(seen).toEqual([undefined, { id: 'u7', admin: true }, ['a', 'b']]);
    seen.length = 0;
    await run(g, 'GET /app/scope', testIO());
    expect(seen).toEqual([undefined, { id: 'anon', admin: true }, ['a', 'b']]);
  });

  it('rewrite the upstream URI through ctx.uri, under the backend base path', async () => {
    const g = gatewayWith([
      get('/item/{id}', {
        to: '/items/{id}',
        before: [
          (ctx) => {
            expect(ctx.uri).toBe('/items/42?x=1');
            ctx.uri = `/v2${ctx.uri}&via=hook`;
          },
          (ctx) => {
            expect(ctx.uri).toBe('/v2/items/42?x=1&via=hook');
          },
        ],
      }),
    ]);
    expect(asForward(await run(g, 'GET /app/item/42?x=1')).uri).toBe('/base/v2/items/42?x=1&via=hook');
  });

  for (const bad of ['http://evil/', 'https://evil.example/x', '//evil', '//evil/path', 'relative/path', '', '\\\\evil', '/\\evil', '/a\\..\\..\\x', '/a b', '/a\r\nHost: evil', '/a\u0000']) {
    it(`refuses a hook setting an upstream URI that is not a safe origin-form path (${JSON.stringify(bad)}) with 500 internal`, async () => {
      let after = false;
      const g = gatewayWith([
        get('/redirect', {
          before: [
            (ctx) => {
              ctx.uri = bad;
            },
            () => void (after = true),
          ],
        }),
      ]);
      const plan = asRespond(await run(g, 'GET /app/redirect'));
      expect(plan.response.status).toBe(500);
      expect(plan.error?.code).toBe('internal');
      expect(plan.error?.details).toMatchObject({ uri: bad });
      expect(bodyText(plan.response)).toBe('internal: The gateway failed to handle the request.\n');
      expect(after).toBe(false);
    });
  }

  describe('stop the request', () => {
    it('with a thrown GatewayError, rendered by the gateway renderer', async () => {
      let after = false;
      const g = gatewayWith([
        get('/auth', {
          before: [
            (ctx) => {
              if (!state.keys.has(ctx.headers.get('x-api-key') ?? '')) throw unauthorized('Send a key in X-Api-Key.');
            },
            () => void (after = true),
          ],
        }),
      ]);
      const plan = asRespond(await run(g, 'GET /app/auth'));
      expect(plan.error?.code).toBe('unauthorized');
      expect(plan.response).toEqual({
        status: 401,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: 'unauthorized: Send a key in X-Api-Key.\n',
      });
      expect(after).toBe(false);
      asForward(await run(g, 'GET /app/auth', testIO({ 'x-api-key': 'k1' })));
      expect(after).toBe(true);
    });

    it('with a returned GatewayError (sync or async)', async () => {
      const g = gatewayWith(
        [
          get('/sync', { before: () => forbidden(undefined, { headers: { 'x-reason': 'policy' } }) }),
          get('/async', { before: async () => new GatewayError('too_many_requests', { headers: { 'retry-after': '3' } }) }),
        ],
        'json',
      );
      const sync = asRespond(await run(g, 'GET /app/sync'));
      expect(sync.response.status).toBe(403);
      expect(sync.response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'x-reason': 'policy' });
      expect(JSON.parse(bodyText(sync.response))).toEqual({ error: { code: 'forbidden', message: 'Access to this resource is forbidden.', status: 403 } });
      const later = asRespond(await run(g, 'GET /app/async'));
      expect(later.response.status).toBe(429);
      expect(later.response.headers['retry-after']).toBe('3');
      expect(later.error?.code).toBe('too_many_requests');
    });

    it('with a returned respond()/json() response that bypasses the renderer', async () => {
      let after = false;
      const g = gatewayWith(
        [
          get('/login', { before: [() => respond(302, null, { Location: '/login' }), () => void (after = true)] }),
          post('/teapot', { before: async () => json(418, { short: true, stout: true }, { 'X-Kind': 'teapot' }) }),
        ],
        'problem',
      );
      const login = asRespond(await run(g, 'GET /app/login'));
      expect(login).toEqual({ kind: 'respond', response: { status: 302, headers: { location: '/login' }, body: null }, error: undefined });
      expect(after).toBe(false);
      const teapot = asRespond(await run(g, 'POST /app/teapot'));
      expect(teapot.error).toBeUndefined();
      expect(teapot.response.status).toBe(418);
      expect(teapot.response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'x-kind': 'teapot' });
      expect(JSON.parse(bodyText(teapot.response))).toEqual({ short: true, stout: true });
    });

    it('with a GatewayError carrying its own response, which is sent instead of the rendered error', async () => {
      const failures: unknown[] = [];
      const g = gatewayWith(
        [get('/custom', { before: () => { throw unauthorized('no token', { response: json(401, { login: '/login' }) }); } })],
        'problem',
        { pipelineFailed: (event) => failures.push(event.error.code) },
      );
      const plan = asRespond(await run(g, 'GET /app/custom'));
      expect(plan.error?.code).toBe('unauthorized');
      expect(plan.response.status).toBe(401);
      expect(plan.response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(JSON.parse(bodyText(plan.response))).toEqual({ login: '/login' });
      expect(failures).toEqual(['unauthorized']);
    });

    it('with 500 internal when a hook throws a plain Error, keeping the cause for logs but not rendering it', async () => {
      const boom = new Error('db password is hunter2');
      const g = gatewayWith([get('/boom', { before: async () => { throw boom; } })], 'json');
      const plan = asRespond(await run(g, 'GET /app/boom'));
      expect(plan.response.status).toBe(500);
      expect(plan.error?.code).toBe('internal');
      expect(plan.error?.cause).toBe(boom);
      expect(isGatewayError(plan.error)).toBe(true);
      expect(bodyText(plan.response)).not.toContain('hunter2');
      expect(JSON.parse(bodyText(plan.response))).toEqual({ error: { code: 'internal', message: 'The gateway failed to handle the request.', status: 500 } });
    });

    it('with 500 internal when a hook throws a non-Error value or returns something that is no response', async () => {
      const g = gatewayWith([
        get('/string', { before: () => { throw 'oops'; } }),
        get('/value', { before: (() => 42) as unknown as Hook<Record<string, string>, AppEnv> }),
      ]);
      const thrown = asRespond(await run(g, 'GET /app/string'));
      expect(thrown.response.status).toBe(500);
      expect(thrown.error?.cause).toBe('oops');
      const returned = asRespond(await run(g, 'GET /app/value'));
      expect(returned.response.status).toBe(500);
      expect(returned.error?.details).toMatchObject({ value: 42 });
    });
  });
});
