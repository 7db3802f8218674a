// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { createGateway, service, type Env, type Middleware, type ProvidedBy, type Route, type RouteDescriptor } from '@apigate/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { forbidden } from '@apigate/errors';
import { expectTypeOf } from 'expect-type';
import * as v from 'valibot';
import { z } from 'zod';
import { all, declaredSchemas, defineRoutes, del, get, post, put, query, type DeclaredSchemas, type MapInput, type ParamsOf } from './index.ts';

// Hooks see the path schema's output …
get('/item/{id}', {
  path: z.object({ id: z.coerce.number() }),
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ id: number }>();
    // @ts-expect-error the schema has no `other`
    void ctx.params.other;
  },
});
get('/item/{id}/review/{reviewId}', {
  path: v.object({ id: v.pipe(v.string(), v.toNumber()), reviewId: v.string() }),
  before: [
    (ctx) => {
      expectTypeOf(ctx.params).toEqualTypeOf<{ id: number; reviewId: string }>();
    },
    async (ctx) => {
      expectTypeOf(ctx.params.id).toEqualTypeOf<number>();
    },
  ],
});
// … or, without one, the template's strings.
post('/item/{id}/review/{reviewId}', {
  json: z.object({ stars: z.number() }),
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ id: string; reviewId: string }>();
    // @ts-expect-error the path has no {nope}
    void ctx.params.nope;
  },
});
get('/static', {
  before: (ctx) => {
    // @ts-expect-error a static path has no params
    void ctx.params.id;
  },
});
expectTypeOf<ParamsOf<'/a/{b}', never>>().toEqualTypeOf<{ b: string }>();
expectTypeOf<ParamsOf<'/a/{b}', z.ZodObject<{ b: z.ZodCoercedNumber }>>>().toEqualTypeOf<{ b: number }>();

// A map's input is its schema's output: query, json or form, zod or valibot.
get('/search', {
  query: z.object({ q: z.string(), page: z.coerce.number().default(1) }),
  map: (input) => {
    expectTypeOf(input).toEqualTypeOf<{ q: string; page: number }>();
    return { q: input.q, page: input.page };
  },
});
post('/orders', {
  json: v.object({ sku: v.string(), qty: v.pipe(v.string(), v.toNumber()), note: v.optional(v.string()) }),
  map: (input) => {
    expectTypeOf(input).toEqualTypeOf<{ sku: string; qty: number; note?: string | undefined }>();
    return { ...input, nested: { allowed: true }, list: [[1]] };
  },
});
post('/signup', {
  form: z.object({ email: z.email(), tags: z.array(z.string()) }),
  map: async (input) => {
    expectTypeOf(input).toEqualTypeOf<{ email: string; tags: string[] }>();
    return { email: input.email, tag: input.tags, ok: true, n: 1, big: 1n, none: null, missing: undefined };
  },
});
get('/find', {
  form: v.object({ q: v.string() }),
  map: ({ q }) => ({ q }),
});
expectTypeOf<MapInput<never, z.ZodString, never>>().toEqualTypeOf<string>();
expectTypeOf<MapInput<never, never, never>>().toEqualTypeOf<unknown>();

// defineRoutes<Env>() types the map's context: params, state and scope.
type AppEnv = { state: { tenant: string; limits: { max: number } }; scope: { user: { id: string; admin: boolean } } };
const app = defineRoutes<AppEnv>();
app.post('/shop/{shopId}/orders', {
  path: z.object({ shopId: z.coerce.number().int() }),
  json: z.object({ sku: z.string() }),
  before: (ctx) => {
    expectTypeOf(ctx.params.shopId).toEqualTypeOf<number>();
    expectTypeOf(ctx.state.tenant).toEqualTypeOf<string>();
    ctx.set('user', { id: 'u1', admin: false });
    // @ts-expect-error the scope has no `role`
    ctx.set('role', 'admin');
  },
  map: (input, ctx) => {
    expectTypeOf(input).toEqualTypeOf<{ sku: string }>();
    expectTypeOf(ctx.params).toEqualTypeOf<{ shopId: number }>();
    expectTypeOf(ctx.state).toEqualTypeOf<{ tenant: string; limits: { max: number } }>();
    expectTypeOf(ctx.get('user')).toEqualTypeOf<{ id: string; admin: boolean } | undefined>();
    // @ts-expect-error the scope has no `role`
    void ctx.get('role');
    // @ts-expect-error a map reads the scope; only hooks set it
    void ctx.set;
    if (ctx.get('user')?.admin !== true) throw forbidden();
    return { ...input, tenant: ctx.state.tenant, shop: ctx.params.shopId };
  },
});
app.get('/shop/{shopId}', {
  query: v.object({ q: v.string() }),
  map: (input, ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ shopId: string }>();
    return { q: input.q, max: ctx.state.limits.max };
  },
});
expectTypeOf(app.get('/x')).toEqualTypeOf<Route<AppEnv>>();
expectTypeOf(get('/x', { query: z.object({}) })).toEqualTypeOf<Route<Env>>();
// Without an Env, state and scope are open records.
post('/open', {
  json: z.object({}),
  map: (input, ctx) => {
    expectTypeOf(ctx.state).toEqualTypeOf<Readonly<Record<string, unknown>>>();
    expectTypeOf(ctx.get('anything')).toEqualTypeOf<unknown>();
    return input;
  },
});

// Every kind alone, with multipart streamed and the other options, compiles.
post('/upload', { multipart: true, limit: 10_000_000 });
put('/doc/{id}', { path: z.object({ id: z.uuid() }), json: z.unknown(), limit: 1024, maxDepth: 8 });
del('/doc/{id}', { to: '/documents/{id}', path: v.object({ id: v.string() }) });
get('/plain', { to: '/upstream' });

// Only one of query, json, form and multipart per route.
// @ts-expect-error query and json together
post('/two', { query: z.object({}), json: z.object({}) });
// @ts-expect-error json and form together
post('/two', { json: z.object({}), form: z.object({}) });
// @ts-expect-error form and multipart together
post('/two', { form: z.object({}), multipart: true });
// @ts-expect-error query and multipart together
post('/two', { query: z.object({}), multipart: true });
// @ts-expect-error valibot too: query and form together
get('/two', { query: v.object({}), form: v.object({}) });

// A map needs something to map, and never a multipart body.
// @ts-expect-error map without query, json or form
post('/nothing', { map: () => ({}) });
// @ts-expect-error a path schema alone gives a map nothing to map
post('/nothing/{id}', { path: z.object({ id: z.string() }), map: () => ({}) });
// @ts-expect-error map with multipart
post('/upload', { multipart: true, map: () => ({}) });

// A query or form map returns a flat record of scalars (or arrays of them).
// @ts-expect-error a nested object in a query map
get('/search', { query: z.object({ q: z.string() }), map: ({ q }) => ({ filter: { q } }) });
// @ts-expect-error an array of objects in a form map
post('/signup', { form: v.object({ email: v.string() }), map: ({ email }) => ({ users: [{ email }] }) });
// @ts-expect-error a query map returning a string
get('/search', { query: z.object({ q: z.string() }), map: ({ q }) => `q=${q}` });
// @ts-expect-error an async form map returning a nested value
post('/signup', { form: z.object({ email: z.string() }), map: async ({ email }) => ({ contact: { email } }) });
// @ts-expect-error an array is no record: the query would lose its keys
get('/search', { query: z.object({ q: z.string() }), map: ({ q }) => [q] });
// @ts-expect-error a Date (or any class with methods) is no flat record
get('/search', { query: z.object({ q: z.string() }), map: () => new Date() });
// An interface-typed record (no implicit index signature) is as good as a type literal, and `any` passes.
interface SearchQuery {
  term: string;
  page?: number;
  tags: readonly string[];
}
const toSearch = (q: string): SearchQuery => ({ term: q, tags: [] });
get('/search', { query: z.object({ q: z.string() }), map: ({ q }) => toSearch(q) });
post('/signup', { form: z.object({ email: z.string() }), map: async ({ email }): Promise<SearchQuery> => ({ term: email, tags: [email] }) });
get('/search', { query: z.object({ q: z.string() }), map: ({ q }) => JSON.parse(q) });
interface NestedQuery {
  filter: { term: string };
}
// @ts-expect-error an interface with a nested value is refused like a type literal
get('/search', { query: z.object({ q: z.string() }), map: ({ q }): NestedQuery => ({ filter: { term: q } }) });
// A json map may return anything JSON holds.
post('/orders', { json: z.object({ a: z.string() }), map: ({ a }) => ({ deep: { a: [{ a }] } }) });

// A path schema must accept the template's parameters as strings.
// @ts-expect-error the schema wants a number; the path gives a string
get('/item/{id}', { path: z.object({ id: z.number() }) });
// @ts-expect-error valibot: the schema wants a number
get('/item/{id}', { path: v.object({ id: v.number() }) });
// @ts-expect-error the schema needs {other}, which the path lacks
get('/item/{id}', { path: z.object({ id: z.string(), other: z.string() }) });
// Coercing schemas, and ones that ask for fewer keys, accept the strings.
get('/item/{id}', { path: z.object({ id: z.coerce.number() }) });
get('/item/{id}/{extra}', { path: z.object({ id: z.string() }) });

// A `to` naming a parameter the path lacks is a compile error, with validation options too.
// @ts-expect-error {nope} is not a parameter of the path
get('/item/{id}', { to: '/items/{nope}', query: z.object({}) });
// @ts-expect-error {nope} is not a parameter of the path (valibot schemas)
post('/item/{id}', { to: '/items/{nope}', path: v.object({ id: v.string() }), json: v.object({}) });
get('/item/{id}', { to: '/items/{id}', path: z.object({ id: z.string() }) });

// Non-schemas are compile errors (build() also refuses them at runtime).
// @ts-expect-error a plain object is no Standard Schema
post('/bad', { json: { type: 'object' } });
// @ts-expect-error multipart is `true` or absent
post('/bad', { multipart: 'yes' });

// A catch-all is typed like a parameter, with or without a path schema; `to` is checked the same way.
get('/files/{*rest}', {
  to: '/store/{*rest}',
  before: (ctx) => {
    expectTypeOf(ctx.params).toEqualTypeOf<{ rest: string }>();
  },
});
all('/files/{*rest}', {
  path: z.object({ rest: z.string().transform((rest) => rest.split('/')) }),
  before: (ctx) => {
    expectTypeOf(ctx.params.rest).toEqualTypeOf<string[]>();
  },
});
expectTypeOf<ParamsOf<'/files/{*rest}', never>>().toEqualTypeOf<{ rest: string }>();
// @ts-expect-error the catch-all is written {*rest} in `to`
get('/files/{*rest}', { to: '/store/{rest}', query: z.object({}) });
// @ts-expect-error {*nope} is not the path's catch-all
all('/files/{*rest}', { to: '/store/{*nope}' });
// @ts-expect-error the path schema needs {other}, which the path lacks
get('/files/{*rest}', { path: z.object({ rest: z.string(), other: z.string() }) });

// query() takes a body like post(): json or form, with a map.
query('/search', {
  json: z.object({ term: z.string() }),
  map: (input) => {
    expectTypeOf(input).toEqualTypeOf<{ term: string }>();
    return { q: input.term };
  },
});
query('/search', { form: v.object({ q: v.string() }), meta: { summary: 'Search' } });
// @ts-expect-error only one of query, json, form and multipart, on query() too
query('/search', { json: z.object({}), form: z.object({}) });
expectTypeOf(defineRoutes<{ scope: { user: string } }>().all('/{*rest}')).toEqualTypeOf<Route<{ scope: { user: string } }>>();

// declaredSchemas() types what gateway.routes() lists.
declare const listed: RouteDescriptor;
expectTypeOf(declaredSchemas(listed)).toEqualTypeOf<DeclaredSchemas>();
expectTypeOf<DeclaredSchemas['json']>().toEqualTypeOf<StandardSchemaV1 | undefined>();
expectTypeOf<DeclaredSchemas['multipart']>().toEqualTypeOf<true | undefined>();

// Typed scope from middleware: what a route's, a service's or (through the Env) the gateway's
// middleware provide, the hooks and maps of validated routes read typed.
type Claims = { sub: string; admin: boolean };
const auth = (): Middleware<Env, { claims: Claims }> => ({ name: 'auth', request: (ctx) => void ctx.set('claims', { sub: 's', admin: false }) });
const tier = (): Middleware<Env, { tier: 'free' | 'paid' }> => ({ name: 'tier', request: (ctx) => void ctx.set('tier', 'free') });
// Route level.
post('/orders', {
  use: [auth()],
  json: z.object({ sku: z.string() }),
  before: (ctx) => {
    expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
    // @ts-expect-error the claims have their declared type
    ctx.set('claims', 'alice');
  },
  map: (input, ctx) => {
    expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
    return { ...input, owner: ctx.get('claims')?.sub };
  },
});
app.get('/shop/{shopId}/orders', {
  use: [auth(), tier()],
  path: z.object({ shopId: z.coerce.number() }),
  query: z.object({ q: z.string() }),
  map: (input, ctx) => {
    expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
    expectTypeOf(ctx.get('tier')).toEqualTypeOf<'free' | 'paid' | undefined>();
    expectTypeOf(ctx.get('user')).toEqualTypeOf<{ id: string; admin: boolean } | undefined>();
    expectTypeOf(ctx.params.shopId).toEqualTypeOf<number>();
    expectTypeOf(ctx.state.tenant).toEqualTypeOf<string>();
    return { q: input.q, tier: ctx.get('tier') };
  },
});
app.post('/shop', {
  json: z.object({}),
  map: (input, ctx) => {
    // @ts-expect-error AppEnv has no `claims` and the route has no middleware providing it
    void ctx.get('claims');
    return input;
  },
});
// @ts-expect-error auth provides `claims` as Claims, the Env declares a string
defineRoutes<{ scope: { claims: string } }>().post('/c', { use: [auth()], json: z.object({}) });
expectTypeOf(app.get('/x', { use: [auth()], query: z.object({}) })).toEqualTypeOf<Route<AppEnv>>();

// Service level: core's service() hands the callback these builders, typed for the service's middleware.
const shop = service({ prefix: '/shop', use: [auth()] }, app, ({ post: typedPost }) => [
  typedPost('/orders', {
    json: z.object({ sku: z.string() }),
    before: (ctx) => void expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>(),
    map: (input, ctx) => {
      expectTypeOf(ctx.get('claims')).toEqualTypeOf<Claims | undefined>();
      expectTypeOf(ctx.get('user')).toEqualTypeOf<{ id: string; admin: boolean } | undefined>();
      expectTypeOf(ctx.state.tenant).toEqualTypeOf<string>();
      // @ts-expect-error neither AppEnv nor the service's middleware provide `tier`
      void ctx.get('tier');
      return { ...input, by: ctx.get('claims')?.sub };
    },
  }),
  // Validation options stay checked: the builders are validation's, not core's.
  // @ts-expect-error query and json together
  typedPost('/two', { query: z.object({}), json: z.object({}) }),
]);
createGateway({ state: { tenant: 't', limits: { max: 1 } } }).mount(shop, ['http://a']);
// @ts-expect-error the gateway has no state
createGateway().mount(shop, ['http://a']);
// @ts-expect-error auth provides `claims` as Claims, the builders' Env declares a string
service({ prefix: '/c', use: [auth()] }, defineRoutes<{ scope: { claims: string } }>(), ({ get: g }) => [g('/')]);

// Gateway level: the Env declares what the gateway's middleware provide; mount() checks the types.
const behindGateway = defineRoutes<{ scope: ProvidedBy<typeof auth> }>();
const admin = service({ prefix: '/admin' }, [
  behindGateway.post('/users', {
    json: z.object({ name: z.string() }),
    map: (input, ctx) => {
      if (ctx.get('claims')?.admin !== true) throw forbidden();
      return input;
    },
  }),
]);
createGateway({ use: [auth()] }).mount(admin, ['http://a']);
const claimsAsString = service({ prefix: '/s' }, [defineRoutes<{ scope: { claims: string } }>().get('/')]);
// @ts-expect-error the gateway's auth provides `claims` as Claims, the service's Env says string
createGateway({ use: [auth()] }).mount(claimsAsString, ['http://a']);
