import type { Env, ScopeMatches, WithScope } from './env.ts';
import type { RouteInput } from './input.ts';
import type { CheckTo, PathParams } from './path-template.ts';
import type { Middleware, ProvidedBy } from './middleware.ts';
import type { Hook } from './request.ts';
import type { RouteUpstream } from './upstream.ts';

/** The methods with a builder of their own; `all()` answers these and any other. */
export const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'QUERY'] as const;
export type Method = (typeof methods)[number];
/** A route's method: one of `methods`, or `*` for an `all()` route. */
export type RouteMethod = Method | '*';

/**
 * Options of one route. The validation layer adds `path`, `query`, `json`, `form`, `multipart` and
 * `map` beside these; a route keeps every option it was declared with. The hooks see the Env's
 * scope plus what the route's `use` provide.
 */
export interface RouteOptions<TPath extends string, TTo extends string, TEnv extends Env, TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[]> {
  /**
   * The upstream path: absent strips the service prefix, a static path replaces the path, a
   * template (`/api/v2/reviews/{id}`) substitutes the route's parameters. The query is kept.
   */
  to?: TTo;
  /** Hooks run in order before the request goes upstream. */
  before?: Hook<PathParams<TPath>, WithScope<TEnv, ProvidedBy<TUse>>> | readonly Hook<PathParams<TPath>, WithScope<TEnv, ProvidedBy<TUse>>>[];
  /** A named policy of the gateway; overrides the service's and the default. */
  policy?: string;
  /** Middleware of this route, inside the gateway's and the service's; what they provide, the hooks read typed. */
  use?: TUse;
  /**
   * What the route declares about itself for tools reading `gateway.routes()` (documentation,
   * OpenAPI): a summary, tags, "needs a bearer token". The gateway never reads it.
   */
  meta?: Readonly<Record<string, unknown>>;
  /** Timeouts of this route's upstream requests, over the gateway's `upstream` (long polls, streams). */
  upstream?: RouteUpstream;
}

/** A declared route: what the builders return and `service()` collects. */
export interface Route<TEnv extends Env = Env> {
  readonly method: RouteMethod;
  readonly path: string;
  readonly to: string | undefined;
  readonly before: readonly Hook<never, TEnv>[];
  readonly policy: string | undefined;
  readonly use: readonly Middleware<TEnv>[];
  readonly meta: Readonly<Record<string, unknown>> | undefined;
  readonly options: Readonly<Record<string, unknown>>;
  /** The validation stage, set by the validation package's route builders. */
  readonly input: RouteInput | undefined;
}

type RouteBuilder<TEnv extends Env> = <const TPath extends string, const TTo extends string = never, const TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[]>(
  path: TPath,
  options?: RouteOptions<TPath, TTo, TEnv, TUse> & CheckTo<TPath, NoInfer<TTo>> & ScopeMatches<TEnv, ProvidedBy<NoInfer<TUse>>>,
) => Route<TEnv>;

/**
 * Type-level only: how a kind of route builders is made for another Env, so that
 * `service(options, builders, routes)` hands `routes` the same builders typed for the service's
 * middleware. Builders of another package (validation) declare their own kind: the Env to make
 * them for is read from `env`, e.g. `{ readonly builders: MyBuilders<Extract<this['env'], Env>> }`.
 */
export interface BuildersKind {
  readonly env: unknown;
  readonly builders: unknown;
}

/** The phantom that route builders carry: the Env they are typed for and their kind. */
export interface BuildersOf<TEnv extends Env, TKind extends BuildersKind> {
  readonly env: TEnv;
  readonly kind: TKind;
}

interface CoreBuilders extends BuildersKind {
  readonly builders: RouteBuilders<Extract<this['env'], Env>>;
}

export interface RouteBuilders<TEnv extends Env> {
  /** Never set: only types read it (see ServiceFactory). */
  readonly '~builders'?: BuildersOf<TEnv, CoreBuilders>;
  get: RouteBuilder<TEnv>;
  post: RouteBuilder<TEnv>;
  put: RouteBuilder<TEnv>;
  delete: RouteBuilder<TEnv>;
  patch: RouteBuilder<TEnv>;
  head: RouteBuilder<TEnv>;
  options: RouteBuilder<TEnv>;
  /** The QUERY method: a safe, idempotent request with a body (a search too big for a URL). */
  query: RouteBuilder<TEnv>;
  /**
   * Every method, those above and any other a client sends; a route of one method on the same
   * path wins for that method. OPTIONS is forwarded too: preflights are the upstream's.
   */
  all: RouteBuilder<TEnv>;
}

const builder =
  <TEnv extends Env>(method: RouteMethod): RouteBuilder<TEnv> =>
  (path, options = {} as never) => {
    const { to, before, policy, meta, use = [] } = options as RouteOptions<string, string, TEnv>;
    return {
      method,
      path,
      to,
      before: (before === undefined ? [] : Array.isArray(before) ? [...before] : [before]) as Hook<never, TEnv>[],
      policy,
      use: [...use],
      meta,
      options: options as Readonly<Record<string, unknown>>,
      input: undefined,
    };
  };

/**
 * Route builders typed for an app's Env, so hooks see its state and scope types.
 * @example
 * const { get, post } = defineRoutes<{ state: AppState; scope: { user: string } }>()
 */
export const defineRoutes = <TEnv extends Env = Env>(): RouteBuilders<TEnv> => ({
  get: builder('GET'),
  post: builder('POST'),
  put: builder('PUT'),
  delete: builder('DELETE'),
  patch: builder('PATCH'),
  head: builder('HEAD'),
  options: builder('OPTIONS'),
  query: builder('QUERY'),
  all: builder('*'),
});

/** One route as `gateway.routes()` lists it: enough to document the gateway outside core. */
export interface RouteDescriptor {
  /** The route's method, or `*` for an `all()` route. */
  readonly method: RouteMethod;
  /** The public template, prefix included: `/sales/item/{id}`, `/files/{*rest}`. */
  readonly path: string;
  /**
   * The upstream template: the route's `to` as declared, or for a route without one the path the
   * prefix is stripped from (`/item/{id}`). The backend's base path comes before it.
   */
  readonly to: string;
  readonly service: string;
  /** The policy that picks the backend: the route's, else the service's, else the gateway's default. */
  readonly policy: string;
  /**
   * What the route's input stage declares, by location, as declared: with `@apigate/validation`
   * the Standard Schema objects of `path`, `query`, `json` and `form`, and `multipart: true`.
   * Empty for a route without one.
   */
  readonly input: Readonly<Record<string, unknown>>;
  /** The route's `meta` option; empty when it has none. */
  readonly meta: Readonly<Record<string, unknown>>;
  /**
   * The middleware the route runs, gateway level first, each with what it declares about itself
   * (`describe`: "needs a bearer token", "limited to 100/min").
   */
  readonly middleware: readonly { readonly name: string; readonly describe: Readonly<Record<string, unknown>> }[];
}

export interface ServiceOptions<TUse extends readonly Middleware[] = readonly Middleware[]> {
  /** The service's name: backends are registered by it; also in logs and events. */
  name?: string;
  /** The public path prefix of every route, e.g. `/sales`. Static segments only. */
  prefix?: string;
  /** The named policy of the service's routes that name none. */
  policy?: string;
  /**
   * Middleware of every route of the service, inside the gateway's. With routes made by a
   * callback, what they provide the routes' hooks and maps read typed.
   */
  use?: TUse;
}

/** A group of routes with a prefix, a name and a policy; mounted onto a gateway with backends. */
export interface Service<TEnv extends Env = Env> {
  readonly name: string;
  readonly prefix: string;
  readonly policy: string | undefined;
  readonly use: readonly Middleware[];
  readonly routes: readonly Route<TEnv>[];
}

/** The Env of a service's routes: the builders' Env plus what the service's middleware provide. */
type ServiceEnv<TEnv extends Env, TUse> = WithScope<TEnv, ProvidedBy<TUse>>;

export interface ServiceFactory {
  /**
   * A service whose routes `routes` makes with the builders given, typed for their Env (core's
   * `defineRoutes<AppEnv>()`, validation's) plus what the service's `use` provide. A middleware
   * providing a key the Env declares with another type is a compile error.
   * @example service({ prefix: '/shop', use: [auth()] }, defineRoutes<AppEnv>(), ({ post }) => [post('/orders', { … })])
   */
  <TEnv extends Env, TKind extends BuildersKind, const TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[]>(
    options: ServiceOptions<TUse> & ScopeMatches<TEnv, ProvidedBy<NoInfer<TUse>>>,
    builders: { readonly '~builders'?: BuildersOf<TEnv, TKind> },
    routes: (builders: (TKind & { readonly env: ServiceEnv<TEnv, TUse> })['builders']) => readonly Route<ServiceEnv<TEnv, TUse>>[],
  ): Service<ServiceEnv<TEnv, TUse>>;
  /**
   * A service whose routes `routes` makes with core's builders, whose hooks read typed what the
   * service's `use` provide.
   * @example service({ prefix: '/me', use: [auth()] }, ({ get }) => [get('/', { before: (ctx) => void ctx.get('claims') })])
   */
  <TEnv extends Env = Env, const TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[]>(
    options: ServiceOptions<TUse> & ScopeMatches<TEnv, ProvidedBy<NoInfer<TUse>>>,
    routes: (builders: RouteBuilders<ServiceEnv<TEnv, TUse>>) => readonly Route<ServiceEnv<TEnv, TUse>>[],
  ): Service<ServiceEnv<TEnv, TUse>>;
  /**
   * A service of routes declared beforehand.
   * @example service({ name: 'sales', prefix: '/sales' }, [get('/ping'), get('/item/{id}', { to: '/items/{id}' })])
   */
  <TEnv extends Env = Env>(options: ServiceOptions, routes: readonly Route<TEnv>[]): Service<TEnv>;
}

type MakeRoutes = (builders: never) => readonly Route<never>[];

/**
 * Declares a service: its options and its routes, given as a list or made by a callback with
 * builders typed for what the service's middleware provide (the builders' kind stays the same:
 * the callback is handed the very builders object it was given, or core's).
 * @example service({ name: 'sales', prefix: '/sales' }, [get('/ping'), get('/item/{id}', { to: '/items/{id}' })])
 */
export const service: ServiceFactory = (options: ServiceOptions, ...rest: [routes: readonly Route<never>[] | MakeRoutes] | [builders: unknown, routes: MakeRoutes]): Service<never> => {
  const make = (routes: MakeRoutes, builders: unknown) => (routes as (builders: unknown) => readonly Route<never>[])(builders);
  const routes = rest.length === 2 ? make(rest[1], rest[0]) : typeof rest[0] === 'function' ? make(rest[0], defineRoutes()) : rest[0];
  const prefix = options.prefix ?? '';
  return {
    name: options.name ?? (prefix.replace(/^\/+|\/+$/g, '') || 'default'),
    prefix,
    policy: options.policy,
    use: [...(options.use ?? [])],
    routes: [...routes],
  };
};
