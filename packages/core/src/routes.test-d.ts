// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { json, unauthorized, type GatewayError, type GatewayResponse } from '@apigate/errors';
import { expectTypeOf } from 'expect-type';
import {
  all,
  createGateway,
  defineRoutes,
  get,
  post,
  query,
  service,
  type Env,
  type Middleware,
  type Gateway,
  type Hook,
  type Match,
  type ParamNames,
  type PathParams,
  type RequestContext,
  type Route,
  type RouteDescriptor,
  type RouteMethod,
} from './index.ts';

// Path templates are parsed at the type level.
expectTypeOf<ParamNames<'/item/{id}/review/{reviewId}'>>().toEqualTypeOf<'id' | 'reviewId'>();
expectTypeOf<ParamNames<'/static/path'>>().toEqualTypeOf<never>();
expectTypeOf<PathParams<'/item/{id}'>>().toEqualTypeOf<{ id: string }>();
expectTypeOf<PathParams<string>>().toEqualTypeOf<Record<string, string>>();

// Hooks see typed path params.
get('/item/{id}/review/{reviewId}', {
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ id: string; reviewId: string }>();
    expectTypeOf(ctx.params.id).toEqualTypeOf<string>();
    // @ts-expect-error the path has no {nope}
    void ctx.params.nope;
  },
});
get('/item/{id}', {
  before: [
    (ctx) => {
      expectTypeOf(ctx.params.id).toEqualTypeOf<string>();
    },
    async (ctx) => {
      // @ts-expect-error the path has no {other}
      void ctx.params.other;
    },
  ],
});
get('/static', {
  before: (ctx) => {
    // @ts-expect-error a static path has no params
    void ctx.params.id;
  },
});
// A non-literal path gives a string record.
get('/x/{y}' as string, {
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<Record<string, string>>();
  },
});

// `to`: a template naming a parameter the path lacks is a compile error …
// @ts-expect-error {nope} is not a parameter of the path
get('/item/{id}/review', { to: '/api/v2/reviews/{nope}' });
// @ts-expect-error {reviewId} is not a parameter of the path
post('/item/{id}', { to: '/items/{id}/reviews/{reviewId}' });
// @ts-expect-error a static path has no parameter to substitute
get('/static', { to: '/{id}' });
// … while a static `to`, one using the path's params and a non-literal one compile.
get('/item/{id}/review', { to: '/api/v2/reviews/{id}' });
get('/pair/{a}/{b}', { to: '/swap/{b}/{a}?x=1' });
get('/public', { to: '/internal' });
get('/item/{id}', { to: '/static' });
get('/item/{id}', { to: '/somewhere/{else}' as string });
expectTypeOf(get('/item/{id}', { to: '/items/{id}' })).toEqualTypeOf<Route<Env>>();

// Hooks may return nothing, a response or a GatewayError, sync or async …
get('/a', { before: () => undefined });
get('/a', { before: () => json(401, { login: '/login' }) });
get('/a', { before: async () => unauthorized() });
get('/a', {
  before: () => {
    throw unauthorized();
  },
});
// … and nothing else.
// @ts-expect-error a hook cannot return a plain value
get('/a', { before: () => 42 });
expectTypeOf<ReturnType<Hook>>().toEqualTypeOf<void | undefined | GatewayResponse | GatewayError | Promise<void | undefined | GatewayResponse | GatewayError>>();

// defineRoutes<Env>() types ctx.state and the scope keys and values.
type User = { id: string; roles: readonly string[] };
type AppEnv = { state: { db: { query(sql: string): Promise<unknown> }; greeting: string }; scope: { user: User; requestId: string } };
const app = defineRoutes<AppEnv>();

app.get('/me/{id}', {
  before: [
    (ctx) => {
      expectTypeOf(ctx.state).toEqualTypeOf<AppEnv['state']>();
      expectTypeOf(ctx.state.greeting).toEqualTypeOf<string>();
      // @ts-expect-error the state has no `missing`
      void ctx.state.missing;
      ctx.set('user', { id: ctx.params.id, roles: [] });
      ctx.set('requestId', 'r-1');
      // @ts-expect-error `requestId` is a string
      ctx.set('requestId', 42);
      // @ts-expect-error `user` needs roles
      ctx.set('user', { id: 'u' });
      // @ts-expect-error the scope has no `session`
      ctx.set('session', 'x');
    },
    (ctx) => {
      expectTypeOf(ctx.get('user')).toEqualTypeOf<User | undefined>();
      expectTypeOf(ctx.get('requestId')).toEqualTypeOf<string | undefined>();
      // @ts-expect-error the scope has no `session`
      ctx.get('session');
      expectTypeOf(ctx.params.id).toEqualTypeOf<string>();
    },
  ],
});
// The same hook function, typed once, fits any route of the Env.
const requireUser: Hook<Record<string, string>, AppEnv> = (ctx) => (ctx.get('user') ? undefined : unauthorized());
app.get('/orders/{orderId}', {
  before: [
    requireUser,
    (ctx) => {
      expectTypeOf(ctx.params.orderId).toEqualTypeOf<string>();
    },
  ],
});
expectTypeOf<RequestContext<{ id: string }, AppEnv>['state']>().toEqualTypeOf<AppEnv['state']>();

// mount(): the gateway state must satisfy the service's Env state.
const typed = service({ name: 'app' }, [app.get('/x')]);
const state: AppEnv['state'] = { db: { query: async () => [] }, greeting: 'hi' };
createGateway({ state }).mount(typed, ['http://a']);
createGateway({ state: { ...state, extra: true } }).mount(typed, ['http://a']);
// @ts-expect-error the gateway has no state
createGateway().mount(typed, ['http://a']);
// @ts-expect-error `greeting` is a number in the gateway state
createGateway({ state: { ...state, greeting: 1 } }).mount(typed, ['http://a']);
// @ts-expect-error the gateway state lacks `db`
createGateway({ state: { greeting: 'hi' } }).mount(typed, ['http://a']);

// A service without an Env state (plain get/post, or scope only) mounts on any gateway.
const plain = service({ name: 'plain' }, [get('/p')]);
createGateway().mount(plain, ['http://a']);
createGateway({ state }).mount(plain, ['http://a']).mount(typed, ['http://b']);
const scopeOnly = defineRoutes<{ scope: { user: User } }>();
createGateway({ state }).mount(service({ name: 'scoped' }, [scopeOnly.get('/s', { before: (ctx) => void ctx.get('user') })]), ['http://a']);

// The built gateway keeps the state type.
expectTypeOf(createGateway({ state }).mount(typed).build().state).toEqualTypeOf<AppEnv['state']>();

// A hook written without an Env (reusable middleware) may use scope and read state as unknown.
const reusable: Hook = (ctx) => {
  ctx.set('requestId', 'abc');
  expectTypeOf(ctx.get('requestId')).toEqualTypeOf<unknown>();
  expectTypeOf(ctx.state.anything).toEqualTypeOf<unknown>();
};
createGateway({ state }).mount(service({ name: 'reuse' }, [get('/r', { before: reusable })]), ['http://a']);

// A catch-all `{*rest}` is one string parameter, named without its star.
expectTypeOf<ParamNames<'/files/{*rest}'>>().toEqualTypeOf<'rest'>();
expectTypeOf<ParamNames<'/u/{id}/files/{*path}'>>().toEqualTypeOf<'id' | 'path'>();
expectTypeOf<PathParams<'/files/{*rest}'>>().toEqualTypeOf<{ rest: string }>();
get('/files/{*rest}', {
  to: '/v1/users/{*rest}',
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ rest: string }>();
    // @ts-expect-error the path has no {nope}
    void ctx.params.nope;
  },
});
all('/u/{id}/{*rest}', { to: '/users/{id}/{*rest}/meta' });
// @ts-expect-error {*nope} is not the path's catch-all
get('/files/{*rest}', { to: '/v1/{*nope}' });
// @ts-expect-error the catch-all is written {*rest} in `to` as in the path
get('/files/{*rest}', { to: '/v1/{rest}' });
// @ts-expect-error a plain parameter is not written as a catch-all
get('/item/{id}', { to: '/v1/{*id}' });

// all() and query() build routes like the others; all()'s method is `*`.
expectTypeOf(all('/{*rest}')).toEqualTypeOf<Route<Env>>();
expectTypeOf(query('/search', { to: '/find' })).toEqualTypeOf<Route<Env>>();
expectTypeOf<Route['method']>().toEqualTypeOf<RouteMethod>();
expectTypeOf<RouteMethod>().toEqualTypeOf<'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS' | 'QUERY' | '*'>();
app.query('/q/{id}', { before: (ctx) => void ctx.params.id, meta: { summary: 'search' } });
// @ts-expect-error meta is a record
get('/m', { meta: 'summary' });

// gateway.routes() lists plain descriptors; a Match shows no internals.
const built = createGateway().mount(plain, ['http://a']).build();
expectTypeOf(built.routes()).toEqualTypeOf<readonly RouteDescriptor[]>();
expectTypeOf<RouteDescriptor['method']>().toEqualTypeOf<RouteMethod>();
expectTypeOf<RouteDescriptor['input']>().toEqualTypeOf<Readonly<Record<string, unknown>>>();
expectTypeOf<keyof Match>().toEqualTypeOf<'method' | 'path' | 'query' | 'route'>();
declare const match: Match;
// @ts-expect-error the compiled route stays inside the gateway
void match.compiled;
// @ts-expect-error a gateway is built, never constructed: only its type is exported
void new (await import('./index.ts')).Gateway();
expectTypeOf<Gateway>().toHaveProperty('routes');

// Middleware attaches at three levels; a reusable one (no Env) fits routes of any Env, and a
// typed one sees that Env's scope in its request phase.
const requestId: Middleware = { name: 'request-id', request: (ctx) => void ctx.set('requestId', 'r1'), response: (ctx) => ctx.headers.set('x-request-id', String(ctx.get('requestId'))) };
const typedTier: Middleware<AppEnv> = {
  name: 'typed',
  request: (ctx) => {
    expectTypeOf(ctx.get('user')).toEqualTypeOf<User | undefined>();
    ctx.set('requestId', 'r2');
    // @ts-expect-error the scope value has its declared type
    ctx.set('requestId', 42);
  },
};
app.get('/mw', { use: [requestId, typedTier] });
service({ prefix: '/mw', use: [requestId] }, [get('/x', { use: [requestId] })]);
createGateway({ use: [requestId] });
// @ts-expect-error a middleware has a name
createGateway({ use: [{ request: () => undefined }] });
expectTypeOf<RouteDescriptor['middleware'][number]>().toEqualTypeOf<{ readonly name: string; readonly describe: Readonly<Record<string, unknown>> }>();
