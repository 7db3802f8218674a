import {
  GatewayBuildError,
  GatewayError,
  isGatewayError,
  isGatewayResponse,
  renderError,
  resolveRenderer,
  respond,
  toGatewayError,
  type BuildProblem,
  type ErrorRenderer,
  type GatewayResponse,
  type RendererOption,
} from '@apigate/errors';
import type { Env } from './env.ts';
import type { Observer } from './observer.ts';
import { parseTemplate, type Segment } from './path-template.ts';
import type { ForwardPlan, Plan, RespondPlan, SettleInput } from './plan.ts';
import { roundRobin, type Backend, type PolicyInstance, type Policy, type PolicyRequest, type UpstreamOutcome } from './policy.ts';
import { defaultBodyLimit, type BodySource, type InputContext, type RouteInput } from './input.ts';
import type { Hook, RequestContext, RequestHeaders, RouteInfo } from './request.ts';
import { compileRewrite, decodeParams, withQuery, type Rewrite } from './rewrite.ts';
import { Router } from './router.ts';
import type { Route, Service } from './routes.ts';
import { routeUpstreamProblems, upstreamDefaults, upstreamProblems, type RouteUpstream, type UpstreamConfig } from './upstream.ts';

export type BackendInput = string | { readonly url: string; readonly weight?: number };

export interface GatewayOptions<TState extends object> {
  /** Shared app state, typed; hooks read it as `context.state`. */
  state?: TState;
  /** Backends by service name, for services mounted without their own. */
  backends?: Readonly<Record<string, readonly BackendInput[]>>;
  /** Named load-balancing policies that routes and services refer to. */
  policies?: Readonly<Record<string, Policy>>;
  /** The policy of routes and services that name none; round robin when absent. */
  defaultPolicy?: string;
  /** Connection pooling, timeouts and forwarding headers of the transport. */
  upstream?: UpstreamConfig;
  /** How errors are rendered: 'text' (default), 'json', 'problem' or a function. */
  renderer?: RendererOption;
  /** Receives runtime events; none are built when absent. */
  observer?: Observer;
  /** The body limit, in bytes, of routes that read bodies (default 2 MiB); a route may set its own. */
  bodyLimit?: number;
}

/** What an adapter knows of the request besides method and URL. */
export interface RequestIO {
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  /** The request body, for routes that read it; adapters may compute it lazily. */
  readonly body?: BodySource | undefined;
}

interface CompiledRoute {
  readonly info: RouteInfo;
  readonly names: readonly string[];
  readonly hooks: readonly Hook[];
  readonly rewrite: Rewrite;
  readonly toQuery: string;
  readonly balancer: PolicyInstance;
  readonly input: RouteInput | undefined;
  /** No hooks, no parameters and no input stage: match, pick, stream. */
  readonly passthrough: boolean;
  readonly upstream: RouteUpstream | undefined;
}

/** A request that matched a gateway path: a route, or a path whose methods exclude the request's. */
export interface Match {
  readonly method: string;
  /** The raw path without the query. */
  readonly path: string;
  /** The raw query without `?`. */
  readonly query: string;
  /** The matched route; undefined when only the path matched (405, or an automatic OPTIONS). */
  readonly route: RouteInfo | undefined;
  /** @internal */
  readonly compiled: CompiledRoute | undefined;
  /** @internal raw param values, or the allowed methods when no route matched */
  readonly values: readonly string[];
}

const emptyParams: Readonly<Record<string, string>> = Object.freeze({});
const originForm = /^\/(?![/\\])/;
/**
 * What a hook may not put in `ctx.uri`: whitespace and control characters (Node refuses them when it
 * sends the request; CR/LF would split it) and a backslash in the path, which WHATWG URL parsers,
 * as a fetch transport uses, read as `/` (`/\evil` → `//evil`).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
const unsafeInUri = /[\x00-\x20\x7f]|^[^?]*\\/;

/** A built gateway: matches requests and plans them; adapters do the I/O. */
export class Gateway<TState extends object = object> {
  readonly state: TState;
  readonly upstream: Required<UpstreamConfig>;
  readonly renderer: ErrorRenderer;
  readonly observer: Observer | undefined;
  readonly bodyLimit: number;
  readonly #router: Router<CompiledRoute>;

  /** @internal use createGateway(...).build() */
  constructor(
    state: TState,
    upstream: Required<UpstreamConfig>,
    renderer: ErrorRenderer,
    observer: Observer | undefined,
    bodyLimit: number,
    router: Router<CompiledRoute>,
  ) {
    this.state = state;
    this.upstream = upstream;
    this.renderer = renderer;
    this.observer = observer;
    this.bodyLimit = bodyLimit;
    this.#router = router;
  }

  /** Matches a request; undefined means it is not a gateway path and goes to the host app. */
  match(method: string, target: string): Match | undefined {
    // An absolute-form target (`GET http://host/sales/ping`), which HTTP/1.1 servers must accept,
    // is matched on its path.
    const url = target.charCodeAt(0) === 47 /* / */ ? target : originOf(target);
    if (url === undefined) return undefined;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path.charCodeAt(0) !== 47 /* / */) return undefined;
    const found = this.#router.find(method, path);
    if (found === undefined) return undefined;
    const query = q === -1 ? '' : url.slice(q + 1);
    if (found.kind === 'method') return { method, path, query, route: undefined, compiled: undefined, values: found.allowed };
    return { method, path, query, route: found.value.info, compiled: found.value, values: found.values };
  }

  /**
   * Runs the route's pipeline: parameters, hooks, rewrite, backend choice. Synchronous for a
   * passthrough route; a promise when hooks run.
   */
  handle(match: Match, io: RequestIO): Plan | Promise<Plan> {
    const route = match.compiled;
    if (route === undefined) return this.#refuseMethod(match);
    const observer = this.observer;
    if (observer?.requestStart) observer.requestStart({ route: route.info, method: match.method, path: match.path });
    if (route.passthrough) {
      const uri = withQuery(route.rewrite(emptyParams, match.path), route.toQuery, match.query);
      return this.#forward(route, match, io, uri, emptyParams);
    }
    let params: Record<string, string>;
    try {
      params = decodeParams(route.names, match.values);
    } catch (error) {
      return this.#fail(match, route, toGatewayError(error), 'pipeline');
    }
    const path = route.rewrite(params, match.path);
    if (route.hooks.length === 0 && route.input === undefined) return this.#forward(route, match, io, withQuery(path, route.toQuery, match.query), params);
    const limit = route.input?.limit ?? this.bodyLimit;
    return this.#pipeline(route, match, io, params, new Context(this.state, match, io, params, path, route.toQuery, limit));
  }

  /** Renders an error with the gateway's renderer (or the error's own response). */
  render(error: GatewayError, method: string, path: string): GatewayResponse {
    return renderError(error, { method, path }, this.renderer);
  }

  /** Path validation, then the hooks, then the input stage (query or body). */
  async #pipeline(route: CompiledRoute, match: Match, io: RequestIO, params: Readonly<Record<string, string>>, context: Context): Promise<Plan> {
    try {
      if (route.input?.params) context.params = (await route.input.params(params)) as Record<string, string>;
      for (const hook of route.hooks) {
        const result = await hook(context as RequestContext);
        if (result === undefined) continue;
        if (isGatewayResponse(result)) return { kind: 'respond', response: result, error: undefined };
        if (isGatewayError(result)) throw result;
        throw new GatewayError('internal', { details: { reason: 'a hook returned a value that is neither a response nor a GatewayError', value: result } });
      }
      if (route.input?.run) await route.input.run(context as InputContext);
    } catch (error) {
      return this.#fail(match, route, toGatewayError(error), 'pipeline');
    }
    return this.#forward(route, match, io, context.uri, params, context.replacement);
  }

  #forward(
    route: CompiledRoute,
    match: Match,
    io: RequestIO,
    uri: string,
    params: Readonly<Record<string, string>>,
    replacement?: { readonly body: Uint8Array; readonly contentType: string },
  ): Plan {
    const backend = route.balancer.pick(new PolicyView(route.info, match, io, params));
    if (backend === undefined) return this.#fail(match, route, new GatewayError('no_backend_available', { details: { service: route.info.service } }), 'dispatch');
    const observer = this.observer;
    if (observer?.backendSelected) observer.backendSelected({ route: route.info, method: match.method, path: match.path, backend });
    route.balancer.start?.(backend);
    return new Forward(route, match, backend, backend.basePath === '' ? uri : backend.basePath + uri, observer, replacement);
  }

  #fail(match: Match, route: CompiledRoute, error: GatewayError, stage: 'pipeline' | 'dispatch'): RespondPlan {
    const observer = this.observer;
    if (observer) {
      const event = { route: route.info, method: match.method, path: match.path, error };
      if (stage === 'pipeline') observer.pipelineFailed?.(event);
      else observer.dispatchFailed?.(event);
    }
    return { kind: 'respond', response: this.render(error, match.method, match.path), error };
  }

  #refuseMethod(match: Match): RespondPlan {
    const allow = match.values.join(', ');
    if (match.method === 'OPTIONS') return { kind: 'respond', response: respond(204, null, { allow }), error: undefined };
    const error = new GatewayError('method_not_allowed', { headers: { allow }, details: { method: match.method } });
    return { kind: 'respond', response: this.render(error, match.method, match.path), error };
  }
}

const absoluteForm = /^https?:\/\/[^/?#]*/i;
/** The origin-form part of an absolute-form target, or undefined for anything else. */
const originOf = (target: string): string | undefined => {
  const found = absoluteForm.exec(target);
  if (found === null) return undefined;
  const rest = target.slice(found[0].length);
  return rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
};

/** What a balancer sees; headers are read from the adapter only if a strategy asks for them. */
class PolicyView implements PolicyRequest {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly #io: RequestIO;

  constructor(route: RouteInfo, match: Match, io: RequestIO, params: Readonly<Record<string, string>>) {
    this.route = route;
    this.method = match.method;
    this.path = match.path;
    this.params = params;
    this.#io = io;
  }

  get headers(): RequestHeaders {
    return this.#io.headers;
  }

  get clientIp(): string | undefined {
    return this.#io.clientIp;
  }
}

const now = (): number => performance.now();

class Forward implements ForwardPlan {
  readonly kind = 'forward';
  readonly route: RouteInfo;
  readonly method: string;
  readonly backend: Backend;
  readonly uri: string;
  readonly body: Uint8Array | undefined;
  readonly contentType: string | undefined;
  readonly upstream: RouteUpstream | undefined;
  readonly #path: string;
  readonly #balancer: PolicyInstance;
  readonly #observer: Observer | undefined;
  readonly #started: number;
  #settled = false;

  constructor(
    route: CompiledRoute,
    match: Match,
    backend: Backend,
    uri: string,
    observer: Observer | undefined,
    replacement: { readonly body: Uint8Array; readonly contentType: string } | undefined,
  ) {
    this.route = route.info;
    this.method = match.method;
    this.backend = backend;
    this.uri = uri;
    this.body = replacement?.body;
    this.contentType = replacement?.contentType;
    this.upstream = route.upstream;
    this.#path = match.path;
    this.#balancer = route.balancer;
    this.#observer = observer;
    this.#started = observer || route.balancer.end ? now() : 0;
  }

  settle(result: SettleInput): void {
    if (this.#settled) return;
    this.#settled = true;
    const observer = this.#observer;
    const end = this.#balancer.end;
    if (!observer && !end) return;
    const latencyMs = now() - this.#started;
    if ('status' in result) {
      end?.call(this.#balancer, this.backend, { ok: true, status: result.status, latencyMs } satisfies UpstreamOutcome);
      observer?.upstreamSucceeded?.({ route: this.route, method: this.method, path: this.#path, backend: this.backend, status: result.status, latencyMs });
    } else {
      end?.call(this.#balancer, this.backend, { ok: false, code: result.error.code, latencyMs });
      observer?.upstreamFailed?.({ route: this.route, method: this.method, path: this.#path, backend: this.backend, error: result.error, latencyMs });
    }
  }
}

class Context implements InputContext {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  params: Record<string, string>;
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  readonly route: RouteInfo;
  readonly state: never;
  readonly body: BodySource | undefined;
  readonly bodyLimit: number;
  replacement: { readonly body: Uint8Array; readonly contentType: string } | undefined;
  readonly #upstreamPath: string;
  readonly #toQuery: string;
  #upstreamQuery: string;
  /** A URI a hook set; it wins over the rewrite. */
  #uri: string | undefined;
  #scope: Map<PropertyKey, unknown> | undefined;

  constructor(state: object, match: Match, io: RequestIO, params: Record<string, string>, upstreamPath: string, toQuery: string, bodyLimit: number) {
    this.method = match.method;
    this.path = match.path;
    this.query = match.query;
    this.params = params;
    this.headers = io.headers;
    this.clientIp = io.clientIp;
    this.route = match.route!;
    this.state = state as never;
    this.body = io.body;
    this.bodyLimit = bodyLimit;
    this.#upstreamPath = upstreamPath;
    this.#toQuery = toQuery;
    this.#upstreamQuery = match.query;
  }

  get uri(): string {
    return this.#uri ?? withQuery(this.#upstreamPath, this.#toQuery, this.#upstreamQuery);
  }

  set uri(value: string) {
    if (typeof value !== 'string' || !originForm.test(value) || unsafeInUri.test(value)) {
      throw new GatewayError('internal', { details: { reason: 'a hook set an upstream URI that is not an origin-form path', uri: value } });
    }
    this.#uri = value;
  }

  setQuery(query: string): void {
    if (this.#uri === undefined) {
      this.#upstreamQuery = query;
      return;
    }
    // A hook set the URI: its path stays, `to`'s own query still comes first.
    const q = this.#uri.indexOf('?');
    this.#uri = withQuery(q === -1 ? this.#uri : this.#uri.slice(0, q), this.#toQuery, query);
  }

  setBody(bytes: Uint8Array, contentType: string): void {
    this.replacement = { body: bytes, contentType };
  }

  get(key: PropertyKey): never {
    return this.#scope?.get(key) as never;
  }

  set(key: PropertyKey, value: unknown): void {
    (this.#scope ??= new Map()).set(key, value);
  }
}

const parseBackend = (input: BackendInput): Backend => {
  const { url, weight = 1 } = typeof input === 'string' ? { url: input } : input;
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('only http: and https: backends are supported');
  if (parsed.search || parsed.hash || parsed.username || parsed.password) throw new Error('a backend URL has no query, fragment or credentials');
  if (!(weight > 0) || !Number.isFinite(weight)) throw new Error(`weight must be a positive number, got ${weight}`);
  return { url, origin: parsed.origin, basePath: parsed.pathname.replace(/\/+$/, ''), weight };
};

/**
 * A service whose Env declares a state needs a gateway state assignable to it; a service that
 * declares none (plain `get`/`post`, or an Env with scope only) mounts on any gateway.
 */
type StateMatches<TState extends object, TEnv extends Env> = TEnv extends { state: infer S }
  ? TState extends S
    ? unknown
    : { 'the gateway state does not match the service Env state': never }
  : unknown;

interface Mounted {
  readonly service: Service<never>;
  readonly backends: readonly BackendInput[] | undefined;
}

/** Collects services and configuration; `build()` validates all of it at once. */
export class GatewayBuilder<TState extends object> {
  readonly #options: GatewayOptions<TState>;
  readonly #mounted: Mounted[] = [];

  constructor(options: GatewayOptions<TState>) {
    this.#options = options;
  }

  /**
   * Mounts a service, with its backends or, when none are given, the ones registered under the
   * service's name in `backends`.
   */
  mount<TEnv extends Env>(
    service: Service<TEnv> & StateMatches<TState, TEnv>,
    backends?: readonly BackendInput[],
  ): this {
    this.#mounted.push({ service: service as Service<never>, backends });
    return this;
  }

  /** Validates everything and returns the gateway; throws GatewayBuildError listing every problem. */
  build(): Gateway<TState> {
    const options = this.#options;
    const problems: BuildProblem[] = [];
    const policies: Record<string, Policy> = { 'round-robin': roundRobin(), ...options.policies };
    const defaultPolicy = options.defaultPolicy ?? 'round-robin';
    if (!Object.hasOwn(policies, defaultPolicy)) problems.push({ code: 'unknown_policy', message: `default policy "${defaultPolicy}" is not registered` });
    const registered = options.backends ?? {};
    const names = new Set<string>();
    const router = new Router<CompiledRoute>();

    for (const { service, backends: own } of this.#mounted) {
      const at = `service ${service.name}`;
      if (names.has(service.name)) problems.push({ code: 'invalid_option', at, message: 'two mounted services have this name' });
      names.add(service.name);
      // A service with a bad prefix is still checked (backends, policies, routes) so that build()
      // lists every problem at once; its routes only stay out of the router.
      let prefix: Segment[] = [];
      let prefixOk = true;
      try {
        if (service.prefix !== '') prefix = parseTemplate(service.prefix);
        if (prefix.some((segment) => segment.kind === 'param')) throw new Error('a prefix has static segments only');
      } catch (error) {
        problems.push({ code: 'invalid_prefix', at, message: (error as Error).message });
        prefix = [];
        prefixOk = false;
      }
      const inputs = own ?? (Object.hasOwn(registered, service.name) ? registered[service.name] : undefined);
      const backends: Backend[] = [];
      if (inputs === undefined || inputs.length === 0) problems.push({ code: 'unknown_backend', at, message: `no backends given at mount() nor registered for "${service.name}"` });
      for (const input of inputs ?? []) {
        try {
          backends.push(parseBackend(input));
        } catch (error) {
          problems.push({ code: 'invalid_backend_url', at, message: `${JSON.stringify(typeof input === 'string' ? input : input.url)}: ${(error as Error).message}` });
        }
      }
      // An unknown policy is reported once where it is named (route, service or default).
      if (service.policy !== undefined && !Object.hasOwn(policies, service.policy)) {
        problems.push({ code: 'unknown_policy', at, message: `policy "${service.policy}" is not registered` });
      }
      const balancers = new Map<string, PolicyInstance>();
      for (const route of service.routes) {
        const routeAt = `${at} ${route.method} ${route.path}`;
        if (route.policy !== undefined && !Object.hasOwn(policies, route.policy)) {
          problems.push({ code: 'unknown_policy', at: routeAt, message: `policy "${route.policy}" is not registered` });
        }
        for (const message of route.input?.problems ?? []) problems.push({ code: 'invalid_option', at: routeAt, message });
        problems.push(...routeUpstreamProblems(route.options.upstream, routeAt));
        const compiled = compileRoute(service, prefix, route, routeAt, problems);
        if (compiled === undefined || !prefixOk) continue;
        const policyName = route.policy ?? service.policy ?? defaultPolicy;
        const policy = Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
        let balancer = policy === undefined ? unknownPolicy : balancers.get(policyName);
        if (!balancer) balancers.set(policyName, (balancer = policy!.create(backends)));
        const full: CompiledRoute = { ...compiled, balancer, upstream: route.options.upstream as RouteUpstream | undefined };
        if (!router.add(route.method, compiled.segments, full)) {
          problems.push({ code: 'duplicate_route', at: routeAt, message: `another route already answers ${route.method} ${compiled.info.path}` });
        }
      }
    }
    for (const name of Object.keys(registered)) {
      if (!names.has(name)) problems.push({ code: 'unknown_backend', at: `backends.${name}`, message: `backends are registered for "${name}" but no mounted service has that name` });
    }
    problems.push(...upstreamProblems(options.upstream ?? {}));
    const bodyLimit = options.bodyLimit ?? defaultBodyLimit;
    if (!Number.isSafeInteger(bodyLimit) || bodyLimit <= 0) problems.push({ code: 'invalid_option', at: 'bodyLimit', message: `must be a positive whole number of bytes, got ${String(bodyLimit)}` });
    if (problems.length > 0) throw new GatewayBuildError(problems);
    const upstream = { ...upstreamDefaults, ...definedOnly(options.upstream ?? {}) };
    return new Gateway((options.state ?? {}) as TState, upstream, resolveRenderer(options.renderer), options.observer, bodyLimit, router);
  }
}

/** Stands in for a policy build() already reported as unknown; such a gateway is never built. */
const unknownPolicy: PolicyInstance = { pick: () => undefined };

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

const compileRoute = (
  service: Service<never>,
  prefix: readonly Segment[],
  route: Route<never>,
  at: string,
  problems: BuildProblem[],
): (Omit<CompiledRoute, 'balancer' | 'upstream'> & { segments: Segment[] }) | undefined => {
  let own: Segment[];
  try {
    own = parseTemplate(route.path);
  } catch (error) {
    problems.push({ code: 'invalid_path', at, message: (error as Error).message });
    return undefined;
  }
  const segments = [...prefix, ...own];
  const names = segments.flatMap((segment) => (segment.kind === 'param' ? [segment.name] : []));
  if (new Set(names).size !== names.length) {
    problems.push({ code: 'invalid_path', at, message: 'a parameter name appears twice' });
    return undefined;
  }
  let to: Segment[] | undefined;
  let toQuery = '';
  if (route.to !== undefined) {
    const q = route.to.indexOf('?');
    const toPath = q === -1 ? route.to : route.to.slice(0, q);
    toQuery = q === -1 ? '' : route.to.slice(q + 1);
    try {
      if (!originForm.test(toPath)) throw new Error(`"to" must be a path starting with a single "/", got "${route.to}"`);
      if (/[{}]/.test(toQuery)) throw new Error(`"to" substitutes parameters in its path only, not in its query: "${route.to}"`);
      if (unsafeInUri.test(route.to) || route.to.includes('#')) throw new Error(`"to" has whitespace, a control character, a backslash or a fragment: ${JSON.stringify(route.to)}`);
      to = parseTemplate(toPath);
    } catch (error) {
      problems.push({ code: 'invalid_path', at, message: (error as Error).message });
      return undefined;
    }
    const unknown = to.filter((segment) => segment.kind === 'param' && !names.includes(segment.name));
    if (unknown.length > 0) {
      problems.push({ code: 'unknown_parameter', at, message: `"to" names ${unknown.map((s) => `{${(s as { name: string }).name}}`).join(', ')}, which the path lacks` });
      return undefined;
    }
  }
  const path = segments.length === 0 ? '/' : `/${segments.map((s) => (s.kind === 'param' ? `{${s.name}}` : s.value)).join('/')}`;
  const hooks = route.before as readonly Hook[];
  return {
    info: { service: service.name, method: route.method, path },
    names,
    hooks,
    // The prefix as the router matched it: `/sales/`, `//sales` or `/sales//v1` cut the raw path
    // by their parsed segments, not by the declared string's length.
    rewrite: compileRewrite(prefix.map((segment) => `/${(segment as { value: string }).value}`).join(''), to),
    toQuery,
    input: route.input,
    passthrough: hooks.length === 0 && names.length === 0 && route.input === undefined,
    segments,
  };
};

/**
 * Starts a gateway definition.
 * @example
 * const gateway = createGateway({ state: { greeting: 'hi' } })
 *   .mount(sales, ['http://127.0.0.1:3001'])
 *   .build()
 */
export const createGateway = <TState extends object = Record<string, never>>(options: GatewayOptions<TState> = {}): GatewayBuilder<TState> =>
  new GatewayBuilder(options);
