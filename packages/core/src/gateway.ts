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
import { callbackReporter, guardedObserver, type CallbackFailure } from './guard.ts';
import { compileChain, emptyChain, respondThrough, runResponse, runSettle, runUpstream, type Chain, type Middleware, type ResponseHeaders, type ScopeReader } from './middleware.ts';
import type { Observer } from './observer.ts';
import { decodeTail, parseTemplate, type Segment, type Tail } from './path-template.ts';
import type { ForwardPlan, Plan, RespondPlan, SettleInput } from './plan.ts';
import { roundRobin, type Backend, type PolicyInstance, type Policy, type PolicyRequest, type UpstreamOutcome } from './policy.ts';
import { defaultBodyLimit, type BodySource, type InputContext, type RouteInput } from './input.ts';
import type { Hook, RequestContext, RequestHeaders, RouteInfo } from './request.ts';
import { compileRewrite, decodeParams, withQuery, type Rewrite } from './rewrite.ts';
import { Router } from './router.ts';
import type { Route, RouteDescriptor, Service } from './routes.ts';
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
  /** Middleware for every route, and for the gateway's own answers (405, OPTIONS, errors). */
  use?: readonly Middleware[];
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
  /** The middleware of the gateway, the route's service and the route. */
  readonly chain: Chain;
  /** The last name is a catch-all's. */
  readonly tail: boolean;
  /** No hooks, no parameters and no input stage: match, pick, stream. */
  readonly passthrough: boolean;
  readonly upstream: RouteUpstream | undefined;
}

/**
 * A request that matched a gateway path: a route, or a path whose methods exclude the request's.
 * Only `gateway.match()` makes one; an adapter hands it back to `gateway.handle()` as it is.
 */
export interface Match {
  readonly method: string;
  /** The raw path without the query. */
  readonly path: string;
  /** The raw query without `?`. */
  readonly query: string;
  /** The matched route; undefined when only the path matched (405, or an automatic OPTIONS). */
  readonly route: RouteInfo | undefined;
}

/** The matched route; undefined when only the path matched. Throws for a look-alike match. */
let compiledOf: (match: Match) => CompiledRoute | undefined;
/** Raw param values, or the allowed methods when no route matched. */
let valuesOf: (match: Match) => readonly string[];

/** The one Match implementation: what handle() needs stays in private fields. */
class GatewayMatch implements Match {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly route: RouteInfo | undefined;
  readonly #compiled: CompiledRoute | undefined;
  readonly #values: readonly string[];

  constructor(method: string, path: string, query: string, compiled: CompiledRoute | undefined, values: readonly string[]) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.route = compiled?.info;
    this.#compiled = compiled;
    this.#values = values;
  }

  static {
    compiledOf = (match) => {
      if (!(#compiled in match)) throw new TypeError('gateway.handle() takes what gateway.match() returned');
      return match.#compiled;
    };
    valuesOf = (match) => (match as GatewayMatch).#values;
  }
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

/** What build() hands the gateway. */
interface GatewayParts<TState extends object> {
  readonly state: TState;
  readonly upstream: Required<UpstreamConfig>;
  readonly renderer: ErrorRenderer;
  readonly observer: Observer | undefined;
  readonly bodyLimit: number;
  readonly router: Router<CompiledRoute>;
  /** The gateway-level middleware. */
  readonly chain: Chain;
  /** Every middleware of every level, once, for close(). */
  readonly middleware: readonly Middleware[];
  readonly routes: readonly RouteDescriptor[];
}

/** A built gateway: matches requests and plans them; adapters do the I/O. */
export class Gateway<TState extends object = object> {
  readonly state: TState;
  readonly upstream: Required<UpstreamConfig>;
  readonly renderer: ErrorRenderer;
  readonly observer: Observer | undefined;
  readonly bodyLimit: number;
  readonly #router: Router<CompiledRoute>;
  readonly #report: (failure: CallbackFailure) => void;
  readonly #chain: Chain;
  readonly #middleware: readonly Middleware[];
  #closed: Promise<void> | undefined;
  readonly #routes: readonly RouteDescriptor[];

  /** @internal use createGateway(...).build() */
  constructor(parts: GatewayParts<TState>) {
    this.state = parts.state;
    this.upstream = parts.upstream;
    this.renderer = parts.renderer;
    this.#report = callbackReporter(parts.observer);
    this.observer = guardedObserver(parts.observer, this.#report);
    this.bodyLimit = parts.bodyLimit;
    this.#router = parts.router;
    this.#routes = parts.routes;
    this.#chain = parts.chain;
    this.#middleware = parts.middleware;
  }

  /**
   * Releases what the gateway's middleware hold (their `close`), once: later calls return the same
   * promise. Call it after the server stopped taking requests.
   */
  close(): Promise<void> {
    this.#closed ??= Promise.allSettled(this.#middleware.map(async (middleware) => middleware.close?.())).then((results) => {
      for (const [i, result] of results.entries()) {
        if (result.status === 'rejected') this.#report({ callback: `${this.#middleware[i]!.name}.close`, error: result.reason, route: undefined });
      }
    });
    return this.#closed;
  }

  /**
   * Every route, in mount and declaration order: method, public and upstream templates, service,
   * policy, declared input schemas and meta. Frozen plain objects, for documentation generators.
   */
  routes(): readonly RouteDescriptor[] {
    return this.#routes;
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
    if (found.kind === 'method') return new GatewayMatch(method, path, query, undefined, found.allowed);
    return new GatewayMatch(method, path, query, found.value, found.values);
  }

  /**
   * Runs the route's pipeline: parameters, hooks, rewrite, backend choice. Synchronous for a
   * passthrough route; a promise when hooks run.
   */
  handle(match: Match, io: RequestIO): Plan | Promise<Plan> {
    const route = compiledOf(match);
    if (route === undefined) return this.#refuseMethod(match, valuesOf(match));
    const observer = this.observer;
    if (observer?.requestStart) observer.requestStart({ route: route.info, method: match.method, path: match.path });
    if (route.passthrough) {
      const uri = withQuery(route.rewrite(emptyParams, match.path, undefined), route.toQuery, match.query);
      return this.#forward(route, match, io, uri, emptyParams);
    }
    const values = valuesOf(match);
    let params: Record<string, string>;
    let tail: Tail | undefined;
    try {
      if (route.tail) tail = decodeTail(values[values.length - 1]!, route.names[route.names.length - 1]!);
      params = decodeParams(route.names, values, tail);
    } catch (error) {
      return this.#fail(match, route, toGatewayError(error), 'pipeline');
    }
    const path = route.rewrite(params, match.path, tail);
    if (route.hooks.length === 0 && route.chain.request.length === 0 && route.input === undefined) return this.#forward(route, match, io, withQuery(path, route.toQuery, match.query), params);
    const limit = route.input?.limit ?? this.bodyLimit;
    return this.#pipeline(route, match, io, params, new Context(this.state, match, io, params, path, route.toQuery, limit));
  }

  /**
   * Renders an error with the gateway's renderer (or the error's own response), through the
   * gateway-level middleware's response phase: for answers an adapter makes before a route's plan
   * exists (a refused transfer coding, a failure of the adapter itself).
   */
  render(error: GatewayError, method: string, path: string): GatewayResponse {
    const response = renderError(error, { method, path }, this.renderer);
    if (this.#chain === emptyChain) return response;
    return this.#through(this.#chain, { route: undefined, method, path, response, error, scope: noScope });
  }

  /**
   * A gateway-made answer that ends the request: the response phases of the middleware the request
   * reached, then settle, at once (the outcome is known; the adapter only writes it).
   */
  #answer(chain: Chain, answer: Answer, reached?: number): RespondPlan {
    const response = chain === emptyChain ? answer.response : this.#through(chain, answer, reached);
    if (chain.settle.length > 0) {
      runSettle(
        chain,
        { route: answer.route, method: answer.method, path: answer.path, status: response.status, error: answer.error, backend: undefined, durationMs: 0, get: (key) => answer.scope.get(key) },
        this.#report,
        reached,
      );
    }
    return { kind: 'respond', response, error: answer.error };
  }

  #through(chain: Chain, answer: Answer, reached?: number): GatewayResponse {
    const { route, method, path, error, scope } = answer;
    return respondThrough(answer.response, (headers) =>
      runResponse(chain, { route, method, path, status: answer.response.status, headers, gatewayMade: true, error, get: (key) => scope.get(key) }, this.#report, reached),
    );
  }

  /** Path validation, then the hooks, then the input stage (query or body). */
  /**
   * The request phases of the route's middleware (gateway, service, route), then path validation,
   * the route's hooks and the input stage (query or body).
   */
  async #pipeline(route: CompiledRoute, match: Match, io: RequestIO, params: Readonly<Record<string, string>>, context: Context): Promise<Plan> {
    const { chain } = route;
    try {
      for (const [i, phase] of chain.request.entries()) {
        // The middleware whose request phase answers, and every one outside it, see the answer.
        context.reached = chain.requestOwners[i]! + 1;
        const answer = await this.#run(phase, context, route, match);
        if (answer !== undefined) return answer;
      }
      context.reached = chain.all.length;
      if (route.input?.params) context.params = (await route.input.params(params)) as Record<string, string>;
      for (const hook of route.hooks) {
        const answer = await this.#run(hook, context, route, match);
        if (answer !== undefined) return answer;
      }
      if (route.input?.run) await route.input.run(context as InputContext);
    } catch (error) {
      return this.#fail(match, route, toGatewayError(error), 'pipeline', context);
    }
    return this.#forward(route, match, io, context.uri, params, context);
  }

  /** Runs one hook (or request phase): undefined to go on, or the plan of its answer. */
  async #run(hook: Hook, context: Context, route: CompiledRoute, match: Match): Promise<RespondPlan | undefined> {
    const result = await hook(context as RequestContext);
    if (result === undefined) return undefined;
    if (isGatewayResponse(result)) return this.#answer(route.chain, { route: route.info, method: match.method, path: match.path, response: result, error: undefined, scope: context }, context.reached);
    if (isGatewayError(result)) throw result;
    throw new GatewayError('internal', { details: { reason: 'a hook returned a value that is neither a response nor a GatewayError', value: result } });
  }

  #forward(
    route: CompiledRoute,
    match: Match,
    io: RequestIO,
    uri: string,
    params: Readonly<Record<string, string>>,
    context?: Context,
  ): Plan {
    const balancer = route.balancer;
    let backend: Backend | undefined;
    try {
      backend = balancer.pick(new PolicyView(route.info, match, io, params));
    } catch (error) {
      this.#report({ callback: 'balancer.pick', error, route: route.info });
      const failure = new GatewayError('internal', { details: { reason: 'the load-balancing policy failed to pick a backend' }, cause: error });
      return this.#fail(match, route, failure, 'dispatch', context);
    }
    if (backend === undefined) return this.#fail(match, route, new GatewayError('no_backend_available', { details: { service: route.info.service } }), 'dispatch', context);
    const observer = this.observer;
    if (observer?.backendSelected) observer.backendSelected({ route: route.info, method: match.method, path: match.path, backend });
    if (balancer.start) {
      try {
        balancer.start(backend);
      } catch (error) {
        // The request still goes: the balancer's own bookkeeping is what failed.
        this.#report({ callback: 'balancer.start', error, route: route.info });
      }
    }
    const scope: ScopeReader = context ?? noScope;
    if (route.chain.upstream.length > 0) {
      runUpstream(route.chain, { route: route.info, method: match.method, path: match.path, backend, attempt: 1, headers: io.headers, get: (key) => scope.get(key) }, this.#report);
    }
    return new Forward({
      route,
      match,
      backend,
      uri: backend.basePath === '' ? uri : backend.basePath + uri,
      observer,
      report: this.#report,
      replacement: context?.replacement,
      scope,
      renderer: this.renderer,
    });
  }

  #fail(match: Match, route: CompiledRoute, error: GatewayError, stage: 'pipeline' | 'dispatch', context?: Context): RespondPlan {
    const observer = this.observer;
    if (observer) {
      const event = { route: route.info, method: match.method, path: match.path, error };
      if (stage === 'pipeline') observer.pipelineFailed?.(event);
      else observer.dispatchFailed?.(event);
    }
    const response = renderError(error, { method: match.method, path: match.path }, this.renderer);
    return this.#answer(route.chain, { route: route.info, method: match.method, path: match.path, response, error, scope: context ?? noScope }, context?.reached);
  }

  #refuseMethod(match: Match, allowed: readonly string[]): RespondPlan {
    const allow = allowed.join(', ');
    const answer = { route: undefined, method: match.method, path: match.path, scope: noScope };
    if (match.method === 'OPTIONS') return this.#answer(this.#chain, { ...answer, response: respond(204, null, { allow }), error: undefined });
    const error = new GatewayError('method_not_allowed', { headers: { allow }, details: { method: match.method } });
    return this.#answer(this.#chain, { ...answer, response: renderError(error, { method: match.method, path: match.path }, this.renderer), error });
  }
}

/** A response the gateway makes itself, and for whom. */
interface Answer {
  readonly route: RouteInfo | undefined;
  readonly method: string;
  readonly path: string;
  readonly response: GatewayResponse;
  readonly error: GatewayError | undefined;
  readonly scope: ScopeReader;
}

const noScope: ScopeReader = { get: () => undefined };

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

interface ForwardParts {
  readonly route: CompiledRoute;
  readonly match: Match;
  readonly backend: Backend;
  readonly uri: string;
  readonly observer: Observer | undefined;
  readonly report: (failure: CallbackFailure) => void;
  readonly replacement: { readonly body: Uint8Array; readonly contentType: string } | undefined;
  readonly scope: ScopeReader;
  readonly renderer: ErrorRenderer;
}

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
  readonly #report: (failure: CallbackFailure) => void;
  readonly #chain: Chain;
  readonly #scope: ScopeReader;
  readonly #renderer: ErrorRenderer;
  readonly #started: number;
  #settled = false;

  constructor(parts: ForwardParts) {
    const { route, match, replacement, observer } = parts;
    this.route = route.info;
    this.method = match.method;
    this.backend = parts.backend;
    this.uri = parts.uri;
    this.body = replacement?.body;
    this.contentType = replacement?.contentType;
    this.upstream = route.upstream;
    this.#path = match.path;
    this.#balancer = route.balancer;
    this.#observer = observer;
    this.#report = parts.report;
    this.#chain = route.chain;
    this.#scope = parts.scope;
    this.#renderer = parts.renderer;
    this.#started = observer || route.balancer.end || route.chain.settle.length > 0 ? now() : 0;
  }

  get intercepts(): boolean {
    return this.#chain.response.length > 0;
  }

  respond(status: number, headers: ResponseHeaders): void {
    const scope = this.#scope;
    runResponse(this.#chain, { route: this.route, method: this.method, path: this.#path, status, headers, gatewayMade: false, error: undefined, get: (key) => scope.get(key) }, this.#report);
  }

  render(error: GatewayError): GatewayResponse {
    const response = renderError(error, { method: this.method, path: this.#path }, this.#renderer);
    if (!this.intercepts) return response;
    const scope = this.#scope;
    return respondThrough(response, (headers) =>
      runResponse(this.#chain, { route: this.route, method: this.method, path: this.#path, status: response.status, headers, gatewayMade: true, error, get: (key) => scope.get(key) }, this.#report),
    );
  }

  /**
   * Called by a transport, often from a socket or stream event: the balancer's `end` and the
   * observer (guarded by the gateway) must not throw out of it, or the process goes down.
   */
  settle(result: SettleInput): void {
    if (this.#settled) return;
    this.#settled = true;
    const observer = this.#observer;
    const end = this.#balancer.end;
    const chain = this.#chain;
    if (!observer && !end && chain.settle.length === 0) return;
    const latencyMs = now() - this.#started;
    if (chain.settle.length > 0) {
      const scope = this.#scope;
      const ok = 'status' in result;
      runSettle(
        chain,
        { route: this.route, method: this.method, path: this.#path, status: ok ? result.status : undefined, error: ok ? undefined : result.error, backend: this.backend, durationMs: latencyMs, get: (key) => scope.get(key) },
        this.#report,
      );
    }
    if (end) {
      const outcome: UpstreamOutcome = 'status' in result ? { ok: true, status: result.status, latencyMs } : { ok: false, code: result.error.code, latencyMs };
      try {
        end.call(this.#balancer, this.backend, outcome);
      } catch (error) {
        this.#report({ callback: 'balancer.end', error, route: this.route });
      }
    }
    if ('status' in result) {
      observer?.upstreamSucceeded?.({ route: this.route, method: this.method, path: this.#path, backend: this.backend, status: result.status, latencyMs });
    } else {
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
  /** How many middleware of the route's chain had their request phase run. */
  reached: number | undefined;
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
    const gatewayUse = options.use ?? [];
    const used = new Set<Middleware>(gatewayUse);
    for (const [i, middleware] of gatewayUse.entries()) {
      if (typeof middleware?.name !== 'string' || middleware.name === '') problems.push({ code: 'invalid_option', at: `use[${i}]`, message: 'a middleware is an object with a non-empty name' });
    }
    const names = new Set<string>();
    const router = new Router<CompiledRoute>();
    const descriptors: RouteDescriptor[] = [];

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
        if (prefix.some((segment) => segment.kind !== 'static')) throw new Error('a prefix has static segments only');
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
        if (route.meta !== undefined && (route.meta === null || typeof route.meta !== 'object' || Array.isArray(route.meta))) {
          problems.push({ code: 'invalid_option', at: routeAt, message: 'meta must be a plain object' });
        }
        problems.push(...routeUpstreamProblems(route.options.upstream, routeAt));
        const compiled = compileRoute({ service, prefix, route, at: routeAt, problems, chain: compileChain([gatewayUse, service.use, route.use as readonly Middleware[]]) });
        for (const middleware of [...service.use, ...(route.use as readonly Middleware[])]) used.add(middleware);
        if (compiled === undefined || !prefixOk) continue;
        const policyName = route.policy ?? service.policy ?? defaultPolicy;
        const policy = Object.hasOwn(policies, policyName) ? policies[policyName] : undefined;
        let balancer = policy === undefined ? unknownPolicy : balancers.get(policyName);
        if (!balancer) balancers.set(policyName, (balancer = policy!.create(backends)));
        const full: CompiledRoute = { ...compiled, balancer, upstream: route.options.upstream as RouteUpstream | undefined };
        if (!router.add(route.method, compiled.segments, full)) {
          const which = route.method === '*' ? 'every method of' : route.method;
          problems.push({ code: 'duplicate_route', at: routeAt, message: `another route already answers ${which} ${compiled.info.path}` });
        }
        descriptors.push(
          Object.freeze({
            method: route.method,
            path: compiled.info.path,
            to: route.to ?? compiled.implied,
            service: service.name,
            policy: policyName,
            input: Object.freeze({ ...route.input?.schemas }),
            meta: Object.freeze({ ...route.meta }),
            middleware: Object.freeze(compiled.chain.all.map((m) => Object.freeze({ name: m.name, describe: Object.freeze({ ...m.describe }) }))),
          }),
        );
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
    return new Gateway({
      state: (options.state ?? {}) as TState,
      upstream,
      renderer: resolveRenderer(options.renderer),
      observer: options.observer,
      bodyLimit,
      router,
      routes: Object.freeze(descriptors),
      chain: compileChain([gatewayUse]),
      middleware: [...used],
    });
  }
}

/** Stands in for a policy build() already reported as unknown; such a gateway is never built. */
const unknownPolicy: PolicyInstance = { pick: () => undefined };

const definedOnly = <T extends object>(value: T): Partial<T> =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;

/** A parsed template written back: `/sales/item/{id}`, `/files/{*rest}`. */
const templateOf = (segments: readonly Segment[]): string =>
  `/${segments.map((s) => (s.kind === 'static' ? s.value : s.kind === 'param' ? `{${s.name}}` : `{*${s.name}}`)).join('/')}`;

interface RouteToCompile {
  readonly service: Service<never>;
  readonly prefix: readonly Segment[];
  readonly route: Route<never>;
  readonly at: string;
  readonly problems: BuildProblem[];
  readonly chain: Chain;
}

const compileRoute = ({ service, prefix, route, at, problems, chain }: RouteToCompile): (Omit<CompiledRoute, 'balancer' | 'upstream'> & { segments: Segment[]; implied: string }) | undefined => {
  let own: Segment[];
  try {
    own = parseTemplate(route.path);
  } catch (error) {
    problems.push({ code: 'invalid_path', at, message: (error as Error).message });
    return undefined;
  }
  const segments = [...prefix, ...own];
  const names = segments.flatMap((segment) => (segment.kind === 'static' ? [] : [segment.name]));
  if (new Set(names).size !== names.length) {
    problems.push({ code: 'invalid_path', at, message: 'a parameter name appears twice' });
    return undefined;
  }
  const tail = own.findIndex((segment) => segment.kind === 'tail');
  if (tail !== -1 && tail !== own.length - 1) {
    problems.push({ code: 'invalid_path', at, message: `a catch-all {*${(own[tail] as { name: string }).name}} must be the last segment of the path` });
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
    // A catch-all is written `{*rest}` in `to` as in the path: the two substitute differently.
    const kinds = new Map(segments.flatMap((segment) => (segment.kind === 'static' ? [] : [[segment.name, segment.kind] as const])));
    const unknown = to.filter((segment) => segment.kind !== 'static' && kinds.get(segment.name) !== segment.kind);
    if (unknown.length > 0) {
      const written = unknown
        .map((s) => {
          const { name } = s as { name: string };
          const own = s.kind === 'tail' ? `{*${name}}` : `{${name}}`;
          return kinds.has(name) ? `${own} (the path has ${kinds.get(name) === 'tail' ? `{*${name}}` : `{${name}}`})` : own;
        })
        .join(', ');
      problems.push({ code: 'unknown_parameter', at, message: `"to" names ${written}, which the path lacks` });
      return undefined;
    }
  }
  const path = templateOf(segments);
  const hooks = route.before as readonly Hook[];
  return {
    info: { service: service.name, method: route.method, path },
    implied: templateOf(own),
    names,
    tail: tail !== -1,
    hooks,
    // The prefix as the router matched it: `/sales/`, `//sales` or `/sales//v1` cut the raw path
    // by their parsed segments, not by the declared string's length.
    rewrite: compileRewrite(prefix.map((segment) => `/${(segment as { value: string }).value}`).join(''), to),
    toQuery,
    input: route.input,
    chain,
    passthrough: hooks.length === 0 && chain.request.length === 0 && names.length === 0 && route.input === undefined,
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
