import {
  defineRoutes as defineCoreRoutes,
  type BuildersKind,
  type BuildersOf,
  type CheckTo,
  type Env,
  type Hook,
  type InputContext,
  type Middleware,
  type PathParams,
  type ProvidedBy,
  type Route,
  type RouteBuilders,
  type RouteUpstream,
  type ScopeMatches,
  type WithScope,
} from '@apigate/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { createInput, type InputOptions } from './input.ts';

type Schema = StandardSchemaV1;
type Output<TSchema> = TSchema extends Schema ? StandardSchemaV1.InferOutput<TSchema> : never;

/** The params hooks and maps see: the path schema's output, or the template's strings. */
export type ParamsOf<TPath extends string, TPathSchema> = [TPathSchema] extends [never] ? PathParams<TPath> : Output<TPathSchema>;

type Scalar = string | number | boolean | bigint;
/** What a query or form map returns: a flat record, serialized back as `key=value` pairs. */
export type PairsOutput = { readonly [key: string]: Scalar | null | undefined | readonly Scalar[] };

/** The input of a map: the output of the route's query, json or form schema. */
export type MapInput<TQuery, TJson, TForm> = [TQuery] extends [never]
  ? [TJson] extends [never]
    ? [TForm] extends [never]
      ? unknown
      : Output<TForm>
    : Output<TJson>
  : Output<TQuery>;

/** What a map is given besides its input: typed params, app state, scope and the request. */
export type MapContext<TParams, TEnv extends Env> = Pick<InputContext<TParams, TEnv>, 'params' | 'state' | 'get' | 'headers' | 'method' | 'path' | 'route' | 'clientIp'>;

/**
 * Route options: core's (`to`, `before`, `policy`, `use`, `meta`, `upstream`) plus typed input
 * validation and a map. Hooks and the map see the Env's scope plus what the route's `use` provide.
 */
export interface ValidatedRouteOptions<
  TPath extends string,
  TTo extends string,
  TEnv extends Env,
  TPathSchema,
  TQuery,
  TJson,
  TForm,
  TMultipart,
  TMapped,
  TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[],
> {
  /** The upstream path; see core's route options. */
  to?: TTo;
  /** Hooks, run after path validation and before the query or body is read. */
  before?: Hook<ParamsOf<TPath, TPathSchema>, WithScope<TEnv, ProvidedBy<TUse>>> | readonly Hook<ParamsOf<TPath, TPathSchema>, WithScope<TEnv, ProvidedBy<TUse>>>[];
  /** A named policy of the gateway. */
  policy?: string;
  /** Middleware of this route, inside the gateway's and the service's; see core's route options. */
  use?: TUse;
  /** What the route declares about itself for `gateway.routes()`; see core's route options. */
  meta?: Readonly<Record<string, unknown>>;
  /** The route's own upstream timeouts; see core's route options. */
  upstream?: RouteUpstream;
  /** Validates the path parameters (input: the decoded strings); hooks and maps get its output. A failure is 422. */
  path?: TPathSchema;
  /** Validates the query string (repeated keys as arrays); with `map`, its output becomes the query. */
  query?: TQuery;
  /** Validates a JSON body; without `map` the original bytes go upstream, with `map` its output as JSON. */
  json?: TJson;
  /** Validates an urlencoded form (the query string for GET/HEAD); with `map`, its output is sent as a form. */
  form?: TForm;
  /** Requires multipart/form-data and streams the body through untouched. */
  multipart?: TMultipart;
  /** Transforms the validated input before it goes upstream; may throw a GatewayError. */
  map?: (input: MapInput<TQuery, TJson, TForm>, context: MapContext<ParamsOf<TPath, TPathSchema>, WithScope<TEnv, ProvidedBy<TUse>>>) => TMapped | Promise<TMapped>;
  /** The route's body limit in bytes (the gateway's `bodyLimit`, 2 MiB by default, otherwise). */
  limit?: number;
  /** The deepest JSON nesting accepted (default 128). */
  maxDepth?: number;
}

/**
 * Whether a map's output is a flat record: checked key by key rather than against PairsOutput's
 * index signature, which an interface-typed value (no implicit index signature) would fail.
 */
type IsFlatRecord<T> = 0 extends 1 & T
  ? true
  : [T] extends [readonly unknown[] | ((...args: never) => unknown)]
    ? false
    : [T] extends [object]
      ? [T] extends [{ readonly [K in keyof T]: PairsOutput[string] }]
        ? true
        : false
      : false;

type Given<T> = [T] extends [never] ? 0 : 1;
type Kinds<TQuery, TJson, TForm, TMultipart> = [Given<TQuery>, Given<TJson>, Given<TForm>, Given<TMultipart>];
type One = [0, 0, 0, 0] | [1, 0, 0, 0] | [0, 1, 0, 0] | [0, 0, 1, 0] | [0, 0, 0, 1];

/** Compile errors for option combinations the gateway refuses (build() refuses them too). */
export type CheckInput<TPath extends string, TPathSchema, TQuery, TJson, TForm, TMultipart, TMapped> = (Kinds<TQuery, TJson, TForm, TMultipart> extends One
  ? unknown
  : { 'only one of query, json, form and multipart per route': never }) &
  ([TMapped] extends [never]
    ? unknown
    : Given<TMultipart> extends 1
      ? { 'map is not allowed with multipart: the body is streamed, never read': never }
      : Kinds<TQuery, TJson, TForm, TMultipart> extends [0, 0, 0, 0]
        ? { 'map needs one of query, json or form': never }
        : [TJson] extends [never]
          ? IsFlatRecord<TMapped> extends true
            ? unknown
            : { 'a query or form map returns a flat record of scalars or arrays of scalars': never }
          : unknown) &
  ([TPathSchema] extends [never]
    ? unknown
    : PathParams<TPath> extends StandardSchemaV1.InferInput<TPathSchema & Schema>
      ? unknown
      : { 'the path schema does not accept the template parameters (strings)': never });

type ValidatedRouteBuilder<TEnv extends Env> = <
  const TPath extends string,
  const TTo extends string = never,
  TPathSchema extends Schema = never,
  TQuery extends Schema = never,
  TJson extends Schema = never,
  TForm extends Schema = never,
  TMultipart extends true = never,
  TMapped = never,
  const TUse extends readonly Middleware<TEnv>[] = readonly Middleware<TEnv>[],
>(
  path: TPath,
  options?: ValidatedRouteOptions<TPath, TTo, TEnv, TPathSchema, TQuery, TJson, TForm, TMultipart, TMapped, TUse> &
    CheckTo<TPath, NoInfer<TTo>> &
    CheckInput<TPath, TPathSchema, TQuery, TJson, TForm, TMultipart, TMapped> &
    ScopeMatches<TEnv, ProvidedBy<NoInfer<TUse>>>,
) => Route<TEnv>;

/** How `service(options, builders, routes)` remakes validated builders for the service's middleware. */
interface ValidatedBuilders extends BuildersKind {
  readonly builders: ValidatedRouteBuilders<Extract<this['env'], Env>>;
}

export interface ValidatedRouteBuilders<TEnv extends Env> {
  /** Never set: only types read it (see core's service()). */
  readonly '~builders'?: BuildersOf<TEnv, ValidatedBuilders>;
  get: ValidatedRouteBuilder<TEnv>;
  post: ValidatedRouteBuilder<TEnv>;
  put: ValidatedRouteBuilder<TEnv>;
  delete: ValidatedRouteBuilder<TEnv>;
  patch: ValidatedRouteBuilder<TEnv>;
  head: ValidatedRouteBuilder<TEnv>;
  options: ValidatedRouteBuilder<TEnv>;
  /** The QUERY method: a safe request with a body, validated with `json` or `form` as for post(). */
  query: ValidatedRouteBuilder<TEnv>;
  /** Every method; see core's all(). A `form` is read from the query on GET and HEAD, the body otherwise. */
  all: ValidatedRouteBuilder<TEnv>;
}

const builder = <TEnv extends Env>(key: Exclude<keyof RouteBuilders<TEnv>, '~builders'>): ValidatedRouteBuilder<TEnv> => {
  const core = defineCoreRoutes<TEnv>();
  return (path, options = {} as never) => {
    const { to, before, policy, use, meta } = options as { to?: string; before?: never; policy?: string; use?: readonly Middleware[]; meta?: Readonly<Record<string, unknown>> };
    const route = core[key](path as string, { to, before, policy, use, meta } as never);
    return { ...route, options: options as Readonly<Record<string, unknown>>, input: createInput(options as InputOptions) };
  };
};

/**
 * Route builders with input validation, typed for an app's Env.
 * @example
 * const { get, post } = defineRoutes<{ state: AppState }>()
 * post('/orders', { json: z.object({ sku: z.string(), qty: z.number().int().positive() }) })
 */
export const defineRoutes = <TEnv extends Env = Env>(): ValidatedRouteBuilders<TEnv> => ({
  get: builder('get'),
  post: builder('post'),
  put: builder('put'),
  delete: builder('delete'),
  patch: builder('patch'),
  head: builder('head'),
  options: builder('options'),
  query: builder('query'),
  all: builder('all'),
});
