import type { Env } from './env.ts';
import type { RouteInput } from './input.ts';
import type { CheckTo, PathParams } from './path-template.ts';
import type { Middleware } from './middleware.ts';
import type { Hook } from './request.ts';
import type { RouteUpstream } from './upstream.ts';

/** The methods with a builder of their own; `all()` answers these and any other. */
export const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'QUERY'] as const;
export type Method = (typeof methods)[number];
/** A route's method: one of `methods`, or `*` for an `all()` route. */
export type RouteMethod = Method | '*';

/**
 * Options of one route. The validation layer adds `path`, `query`, `json`, `form`, `multipart` and
 * `map` beside these; a route keeps every option it was declared with.
 */
export interface RouteOptions<TPath extends string, TTo extends string, TEnv extends Env> {
  /**
   * The upstream path: absent strips the service prefix, a static path replaces the path, a
   * template (`/api/v2/reviews/{id}`) substitutes the route's parameters. The query is kept.
   */
  to?: TTo;
  /** Hooks run in order before the request goes upstream. */
  before?: Hook<PathParams<TPath>, TEnv> | readonly Hook<PathParams<TPath>, TEnv>[];
  /** A named policy of the gateway; overrides the service's and the default. */
  policy?: string;
  /** Middleware of this route, inside the gateway's and the service's. */
  use?: readonly Middleware<TEnv>[];
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

type RouteBuilder<TEnv extends Env> = <const TPath extends string, const TTo extends string = never>(
  path: TPath,
  options?: RouteOptions<TPath, TTo, TEnv> & CheckTo<TPath, NoInfer<TTo>>,
) => Route<TEnv>;

export interface RouteBuilders<TEnv extends Env> {
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

export interface ServiceOptions {
  /** The service's name: backends are registered by it; also in logs and events. */
  name?: string;
  /** The public path prefix of every route, e.g. `/sales`. Static segments only. */
  prefix?: string;
  /** The named policy of the service's routes that name none. */
  policy?: string;
  /** Middleware of every route of the service, inside the gateway's. */
  use?: readonly Middleware[];
}

/** A group of routes with a prefix, a name and a policy; mounted onto a gateway with backends. */
export interface Service<TEnv extends Env = Env> {
  readonly name: string;
  readonly prefix: string;
  readonly policy: string | undefined;
  readonly use: readonly Middleware[];
  readonly routes: readonly Route<TEnv>[];
}

/**
 * Declares a service.
 * @example service({ name: 'sales', prefix: '/sales' }, [get('/ping'), get('/item/{id}', { to: '/items/{id}' })])
 */
export const service = <TEnv extends Env = Env>(options: ServiceOptions, routes: readonly Route<TEnv>[]): Service<TEnv> => {
  const prefix = options.prefix ?? '';
  return {
    name: options.name ?? (prefix.replace(/^\/+|\/+$/g, '') || 'default'),
    prefix,
    policy: options.policy,
    use: [...(options.use ?? [])],
    routes: [...routes],
  };
};
