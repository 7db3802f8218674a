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
  type ProvidedBy,
  type Route,
  type RouteDescriptor,
  type RouteMethod,
  type Service,
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

// Typed scope from middleware: a middleware declares the scope values it provides …
type Claims = { sub: string; scopes: readonly string[] };
const auth = (): Middleware<Env, { claims: Claims }> => ({
  name: 'auth',
  request: (ctx) => {
    ctx.set('claims', { sub: ctx.headers.get('x-sub') ?? '', scopes: [] });
    // @ts-expect-error the claims are set as declared
    ctx.set('claims', 'alice');
    // Keys it does not declare stay open, as for any middleware without an Env.
    ctx.set('other', 1);
  },
});
const tier = (): Middleware<Env, { tier: 'free' | 'paid' }> => ({ name: 'tier', request: (ctx) => void ctx.set('tier', 'paid') });
expectTypeOf<ProvidedBy<typeof auth>>().toEqualTypeOf<{ claims: Claims }>();
expectTypeOf<ProvidedBy<ReturnType<typeof auth>>>().toEqualTypeOf<{ claims: Claims }>();
expectTypeOf<ProvidedBy<[typeof auth, typeof tier]>>().toEqualTypeOf<{ claims: Claims; tier: 'free' | 'paid' }>();
expectTypeOf<ProvidedBy<[]>>().toEqualTypeOf<Record<never, never>>();
// A middleware that declares nothing provides nothing typed.
expectTypeOf<ProvidedBy<typeof requestId>>().toEqualTypeOf<Record<never, never>>();
// … typed against its own Env too: a middleware reading the app's scope sets what it declares.
const typedAuth: Middleware<AppEnv, { claims: Claims }> = {
  name: 'typed-auth',
  request: (ctx) => {
    expectTypeOf(ctx.get('user')).toEqualTypeOf<User | undefined>();
    ctx.set('claims', { sub: 'u', scopes: [] });
    // @ts-expect-error `user` needs roles, as AppEnv declares
    ctx.set('user', { id: 'u' });
    // @ts-expect-error AppEnv's scope is closed: `other` is neither declared nor provided
    ctx.set('other', 1);
  },
};

// A typed middleware is still a Middleware: adapters, `isMiddleware` and every `use` take it.
expectTypeOf(auth()).toExtend<Middleware>();
expectTypeOf(typedAuth).toExtend<Middleware<AppEnv>>();
createGateway({ use: [auth(), requestId] });

// Route level: the route's hooks read what its `use` provide, merged with the Env's scope.
get('/me', {
  use: [auth(), tier()],
  before: (ctx) => {
    expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
    expectTypeOf(ctx.get('tier')).toEqualTypeOf<'free' | 'paid' | undefined>();
    // The Env is open: other keys read as unknown, as before.
    expectTypeOf(ctx.get('anything')).toEqualTypeOf<unknown>();
    // @ts-expect-error the claims are read and set with their type
    ctx.set('claims', 'alice');
  },
});
app.get('/me/{id}', {
  use: [auth()],
  before: [
    (ctx) => {
      expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
      expectTypeOf(ctx.get('user')).toEqualTypeOf<User | undefined>();
      expectTypeOf(ctx.state).toEqualTypeOf<AppEnv['state']>();
      expectTypeOf(ctx.params.id).toEqualTypeOf<string>();
      // @ts-expect-error neither AppEnv nor the route's middleware provide `tier`
      ctx.get('tier');
    },
  ],
});
// Without `use` (or with middleware that declare nothing) the hooks see the Env as it is.
app.get('/plain', {
  use: [requestId],
  before: (ctx) => {
    // @ts-expect-error AppEnv has no `claims` and no middleware of the route provides it
    ctx.get('claims');
  },
});
expectTypeOf(app.get('/me', { use: [auth()] })).toEqualTypeOf<Route<AppEnv>>();
// A middleware providing a key the Env declares with another type is a compile error.
const claimsAsString = defineRoutes<{ scope: { claims: string } }>();
// @ts-expect-error auth provides `claims` as Claims, the Env declares a string
claimsAsString.get('/c', { use: [auth()] });
claimsAsString.get('/c', { use: [tier()], before: (ctx) => void expectTypeOf(ctx.get('claims')).toEqualTypeOf<string | undefined>() });

// Service level: routes made by a callback get builders typed for the service's middleware …
const me = service({ prefix: '/me', use: [auth(), requestId] }, ({ get, post }) => [
  get('/', { before: (ctx) => void expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>() }),
  post('/tier/{level}', {
    use: [tier()],
    before: (ctx) => {
      expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
      expectTypeOf(ctx.get('tier')).toEqualTypeOf<'free' | 'paid' | undefined>();
      expectTypeOf(ctx.params.level).toEqualTypeOf<string>();
    },
  }),
]);
createGateway().mount(me, ['http://a']);
// … or the app's builders, kept typed for its Env: the hooks read both.
const shop = service({ prefix: '/shop', use: [auth()] }, app, ({ get }) => [
  get('/orders/{orderId}', {
    before: (ctx) => {
      expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
      expectTypeOf(ctx.get('user')).toEqualTypeOf<User | undefined>();
      expectTypeOf(ctx.state.greeting).toEqualTypeOf<string>();
      // @ts-expect-error neither AppEnv nor the service's middleware provide `tier`
      ctx.get('tier');
    },
  }),
]);
// The service keeps the Env's state: mount() still checks it.
createGateway({ state }).mount(shop, ['http://a']);
// @ts-expect-error the gateway has no state
createGateway().mount(shop, ['http://a']);
// @ts-expect-error auth provides `claims` as Claims, the Env declares a string
service({ prefix: '/c', use: [auth()] }, claimsAsString, ({ get }) => [get('/')]);
// @ts-expect-error a service's middleware must fit the builders' Env
service({ prefix: '/w', use: [{ name: 'needs-db', request: (ctx: RequestContext<Record<string, string>, { state: { db: number } }>) => void ctx.state.db }] }, app, ({ get }) => [get('/')]);
// The array form is as before.
expectTypeOf(service({ prefix: '/a', use: [auth()] }, [app.get('/x')])).toEqualTypeOf<Service<AppEnv>>();

// Gateway level: routes declare in their Env what the gateway's middleware put in scope …
type GatewayEnv = { state: AppEnv['state']; scope: ProvidedBy<[typeof auth, typeof tier]> & { user: User } };
const behindGateway = defineRoutes<GatewayEnv>();
const account = service({ prefix: '/account' }, [
  behindGateway.get('/', {
    before: (ctx) => {
      expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
      expectTypeOf(ctx.get('tier')).toEqualTypeOf<'free' | 'paid' | undefined>();
    },
  }),
]);
createGateway({ state, use: [auth(), tier()] }).mount(account, ['http://a']);
// … and mount() refuses a service whose Env declares a provided key with another type.
const wrongTier = service({ prefix: '/t' }, [defineRoutes<{ scope: { tier: number } }>().get('/')]);
// @ts-expect-error the gateway's tier middleware provides `tier` as 'free' | 'paid', the service's Env says number
createGateway({ use: [tier()] }).mount(wrongTier, ['http://a']);
createGateway({ use: [auth()] }).mount(wrongTier, ['http://a']);
// A service whose own middleware provide a key with another type than the gateway's is refused too.
const ownTier = service({ prefix: '/o', use: [{ name: 'tier-n', request: () => undefined } as Middleware<Env, { tier: number }>] }, ({ get }) => [get('/')]);
// @ts-expect-error the service provides `tier` as a number, the gateway as 'free' | 'paid'
createGateway({ use: [tier()] }).mount(ownTier, ['http://a']);
createGateway({ use: [auth()] }).mount(ownTier, ['http://a']);

// Middleware written inline (its phases' parameters typed by context, nothing to infer from) is
// accepted at every level and provides nothing typed; its context is still typed.
createGateway({ use: [{ name: 'inline', request: (ctx) => void expectTypeOf(ctx.clientIp).toEqualTypeOf<string | undefined>() }] });
service({ prefix: '/i', use: [{ name: 'inline', response: (ctx) => void expectTypeOf(ctx.status).toEqualTypeOf<number>() }] }, ({ get }) => [
  get('/x', { use: [{ name: 'inline-route', request: (ctx) => void expectTypeOf(ctx.path).toEqualTypeOf<string>() }] }),
]);
