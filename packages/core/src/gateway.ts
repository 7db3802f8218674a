import {
  GatewayError,
  isGatewayError,
  isGatewayResponse,
  renderError,
  respond,
  toGatewayError,
  type ErrorRenderer,
  type GatewayResponse,
} from '@apigate/errors';
import { buildGateway, type BackendInput, type GatewayOptions, type GatewayParts, type Mounted, type StateMatches } from './build.ts';
import type { CompiledRoute } from './compile-route.ts';
import { Context } from './context.ts';
import { clientResolver } from './exchange/trust.ts';
import type { Env, NoScope, ScopeMatches } from './env.ts';
import { Forward } from './forward.ts';
import { callbackReporter, guardedObserver, type CallbackFailure } from './guard.ts';
import type { InputContext } from './input.ts';
import { compiledOf, GatewayMatch, refusalOf, valuesOf, type Match, type RequestIO, type Routed } from './match.ts';
import { emptyChain, noTransform, respondThrough, runResponse, runSettle, runUpstream, type Chain, type InitContext, type Middleware, type ProvidedBy, type ScopeReader } from './middleware.ts';
import type { Observer, Trace } from './observer.ts';
import { Background, RequestPlatform, type Platform } from './platform.ts';
import { decodeTail, type Tail } from './path-template.ts';
import type { Plan, RespondPlan } from './plan.ts';
import type { Backend } from './policy.ts';
import { PolicyView } from './policy-view.ts';
import type { HookResult, RequestContext, RouteInfo } from './request.ts';
import { decodeParams, withQuery } from './rewrite.ts';
import type { Router } from './router.ts';
import type { RouteDescriptor, Service } from './routes.ts';
import { originOf } from './target.ts';
import type { UpstreamConfig } from './upstream.ts';

const emptyParams: Readonly<Record<string, string>> = Object.freeze({});

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
  /** What adapters gave the gateway to close with it (their transports' pools). */
  readonly #owned = new Set<Closeable>();
  /** The last request number the observer heard of. */
  #ids = 0;
  readonly #routes: readonly RouteDescriptor[];
  /** The client's address through the trusted proxies: the same for balancers, middleware and events. */
  readonly #client: (io: RequestIO) => string | undefined;
  /** waitUntil work on runtimes that keep none themselves, for close() to wait for. */
  readonly #background = new Background();
  /** The platform of what has no request of its own (a passthrough, an adapter's own answer). */
  readonly #platform: Platform;
  /** Middleware whose init is running: requests that reach one wait for this. */
  readonly #initializing = new Map<Middleware, Promise<void>>();
  /** Middleware whose init failed, and why: requests that reach one are answered 503. */
  readonly #failed = new Map<Middleware, unknown>();
  readonly #ready: Promise<void>;

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
    this.#client = clientResolver(parts.upstream.trustedProxies);
    this.#platform = new RequestPlatform(undefined, this.#background, this.#report, undefined);
    this.#ready = this.#init();
  }

  /** Starts every middleware's init, once each, however many levels it is attached at. */
  #init(): Promise<void> {
    const running: Promise<void>[] = [];
    for (const middleware of this.#middleware) {
      if (middleware.init === undefined) continue;
      const context: InitContext = {
        state: this.state as never,
        report: (error) => this.#report({ callback: `${middleware.name}.background`, error, route: undefined }),
      };
      let result: void | Promise<void>;
      try {
        result = middleware.init(context);
      } catch (error) {
        this.#initFailed(middleware, error);
        continue;
      }
      // A synchronous init is done: its routes keep the synchronous path.
      if (typeof (result as Promise<void> | undefined)?.then !== 'function') continue;
      const settled = Promise.resolve(result).then(
        () => void this.#initializing.delete(middleware),
        (error: unknown) => {
          this.#initializing.delete(middleware);
          this.#initFailed(middleware, error);
        },
      );
      this.#initializing.set(middleware, settled);
      running.push(settled);
    }
    const ready = Promise.all(running).then(() => {
      if (this.#failed.size === 0) return;
      const names = [...this.#failed.keys()].map((middleware) => `"${middleware.name}"`).join(', ');
      throw new AggregateError([...this.#failed.values()], `apigate: the init of middleware ${names} failed`);
    });
    // Nobody may ask: a failure is reported either way, never an unhandled rejection.
    ready.catch(() => undefined);
    return ready;
  }

  #initFailed(middleware: Middleware, error: unknown): void {
    this.#failed.set(middleware, error);
    this.#report({ callback: `${middleware.name}.init`, error, route: undefined });
  }

  /**
   * Resolves when every middleware's init has finished; rejects with an AggregateError naming the
   * middleware whose init failed (their routes answer 503 `middleware_unavailable`). Await it
   * before listening, as a server that must not take requests it cannot serve yet.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Shuts the gateway's own work down, once: later calls return the same promise. It waits for
   * inits still running and for the `waitUntil` work the gateway keeps (a graceful drain), then
   * calls every middleware's `close` (a failed init's too), and last closes what adapters gave it
   * to own (the connection pools of the transports they made). Call it after the server stopped
   * taking requests.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all(this.#initializing.values());
      await this.#background.drain();
      const results = await Promise.allSettled(this.#middleware.map(async (middleware) => middleware.close?.()));
      for (const [i, result] of results.entries()) {
        if (result.status === 'rejected') this.#report({ callback: `${this.#middleware[i]!.name}.close`, error: result.reason, route: undefined });
      }
      // The pools go last: a middleware's close may still send a request (a final flush).
      for (const resource of this.#owned) {
        try {
          await resource.close();
        } catch (error) {
          this.#report({ callback: 'transport.close', error, route: undefined });
        }
      }
    })();
    return this.#closed;
  }

  /**
   * For adapter authors: hands the gateway a resource to close with it, such as the transport an
   * adapter made for it, so that `gateway.close()` also closes its connection pools. A resource
   * given after close() began is closed at once.
   */
  own(resource: Closeable): void {
    if (this.#closed !== undefined) {
      void this.#closed.then(() => resource.close());
      return;
    }
    this.#owned.add(resource);
  }

  /** The request's platform: what the adapter knows of the runtime, the gateway's stand-ins for the rest. */
  #platformOf(io: RequestIO, route: RouteInfo | undefined): Platform {
    return new RequestPlatform(io.platform, this.#background, this.#report, route);
  }

  /**
   * Whether a request on `chain` can go on: a promise of its plan when an init it needs is still
   * running, the plan of a 503 when one failed, undefined when every init is done.
   */
  #gate(chain: Chain, match: Match, io: RequestIO): Promise<Plan> | RespondPlan | undefined {
    const running = chain.init.flatMap((middleware) => this.#initializing.get(middleware) ?? []);
    if (running.length > 0) return Promise.all(running).then(() => this.handle(match, io));
    const failed = chain.init.find((middleware) => this.#failed.has(middleware));
    if (failed === undefined) return undefined;
    const error = new GatewayError('middleware_unavailable', { details: { middleware: failed.name }, cause: this.#failed.get(failed) });
    // As if the failed middleware had refused the request: the ones outside it see the answer, it and those inside do not.
    const reached = chain.all.indexOf(failed);
    const route = compiledOf(match);
    const trace = this.#trace();
    if (route === undefined) {
      const response = renderError(error, { method: match.method, path: match.path }, this.renderer);
      return this.#answer(chain, { route: undefined, method: match.method, path: match.path, response, error, scope: noScope, trace, platform: this.#platformOf(io, undefined) }, reached);
    }
    if (trace !== undefined) this.observer!.requestStart?.({ id: trace.id, route: route.info, method: match.method, path: match.path });
    return this.#fail({ route, match, error, stage: 'pipeline', trace, reached, platform: this.#platformOf(io, route.info) });
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
    if (found === undefined) return path.includes('//') ? this.#emptySegments(method, path, q === -1 ? '' : url.slice(q + 1)) : undefined;
    const query = q === -1 ? '' : url.slice(q + 1);
    if (found.kind === 'method') return new GatewayMatch({ method, path, query, compiled: undefined, values: found.allowed });
    return new GatewayMatch({ method, path, query, compiled: found.value, values: found.values });
  }

  /**
   * A path with empty segments (`/sales//orders`) matches no route as sent; when it would match
   * one with them merged it is the gateway's, and refused with 400 `invalid_path` rather than
   * passed to the host app (which may route it elsewhere) or forwarded (`//x` upstream reads as a
   * scheme-relative URL). Merging and forwarding would match a normalized path, which rule 5 of
   * the design forbids: what is matched is what is forwarded.
   */
  #emptySegments(method: string, path: string, query: string): Match | undefined {
    const found = this.#router.find(method, path.replace(/\/{2,}/g, '/'));
    if (found === undefined) return undefined;
    const refusal = new GatewayError('invalid_path', { message: 'The request path has an empty segment.', details: { reason: 'empty path segment', path } });
    const compiled = found.kind === 'route' ? found.value : undefined;
    return new GatewayMatch({ method, path, query, compiled, values: [], refusal });
  }

  /**
   * Runs the route's pipeline: parameters, hooks, rewrite, backend choice. Synchronous for a
   * passthrough route; a promise when hooks run.
   */
  handle(match: Match, io: RequestIO): Plan | Promise<Plan> {
    const route = compiledOf(match);
    if (this.#initializing.size > 0 || this.#failed.size > 0) {
      const gate = this.#gate(route?.chain ?? this.#chain, match, io);
      if (gate !== undefined) return gate;
    }
    const trace = this.#trace();
    const refusal = refusalOf(match);
    if (refusal !== undefined) return this.#refuseEarly(match, refusal, io, trace);
    if (route === undefined) return this.#refuseMethod(match, valuesOf(match), io, trace);
    if (trace !== undefined) this.observer!.requestStart?.({ id: trace.id, route: route.info, method: match.method, path: match.path });
    if (route.passthrough) {
      const uri = withQuery(route.rewrite(emptyParams, match.path, undefined), route.toQuery, match.query);
      return this.#forward({ route, match, io, params: emptyParams, trace }, uri);
    }
    const values = valuesOf(match);
    let params: Record<string, string>;
    let tail: Tail | undefined;
    try {
      if (route.tail) tail = decodeTail(values[values.length - 1]!, route.names[route.names.length - 1]!);
      params = decodeParams(route.names, values, tail);
    } catch (error) {
      return this.#fail({ route, match, error: toGatewayError(error), stage: 'pipeline', trace, platform: this.#platformOf(io, route.info) });
    }
    const path = route.rewrite(params, match.path, tail);
    const routed: Routed = { route, match, io, params, trace };
    if (route.hooks.length === 0 && route.chain.request.length === 0 && route.input === undefined) return this.#forward(routed, withQuery(path, route.toQuery, match.query));
    const bodyLimit = route.input?.limit ?? this.bodyLimit;
    const platform = this.#platformOf(io, route.info);
    return this.#pipeline(routed, new Context({ state: this.state, match, io, params, upstreamPath: path, toQuery: route.toQuery, bodyLimit, clientIp: this.#client(io), trace, platform }));
  }

  /** A new request's identity, when an observer listens: no cost without one (DESIGN.md rule 9). */
  #trace(): Trace | undefined {
    return this.observer === undefined ? undefined : { id: ++this.#ids, started: performance.now() };
  }

  /**
   * Renders an error with the gateway's renderer (or the error's own response), through the
   * gateway-level middleware's response phase: for answers an adapter makes before a route's plan
   * exists (a refused transfer coding, a failure of the adapter itself).
   */
  render(error: GatewayError, method: string, path: string): GatewayResponse {
    const response = renderError(error, { method, path }, this.renderer);
    if (this.#chain === emptyChain) return response;
    return this.#through(this.#chain, { route: undefined, method, path, response, error, scope: noScope, trace: undefined, platform: this.#platform });
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
        { route: answer.route, method: answer.method, path: answer.path, status: response.status, error: answer.error, backend: undefined, durationMs: 0, platform: answer.platform, get: (key) => answer.scope.get(key) },
        { report: this.#report, reached },
      );
    }
    const { trace } = answer;
    if (trace !== undefined) {
      this.observer!.requestEnd?.({
        id: trace.id,
        route: answer.route,
        method: answer.method,
        path: answer.path,
        status: response.status,
        error: answer.error,
        backend: undefined,
        gatewayMade: true,
        durationMs: performance.now() - trace.started,
      });
    }
    return { kind: 'respond', response, error: answer.error };
  }

  #through(chain: Chain, answer: Answer, reached?: number): GatewayResponse {
    const { route, method, path, error, scope, platform } = answer;
    return respondThrough(answer.response, (headers) =>
      runResponse(chain, { route, method, path, status: answer.response.status, headers, gatewayMade: true, error, transform: noTransform, platform, get: (key) => scope.get(key) }, { report: this.#report, reached }),
    );
  }

  /**
   * The request phases of the route's middleware (gateway, service, route), then path validation,
   * the route's hooks and the input stage (query or body). Synchronous while every step is: a
   * step that returns a promise (or an input stage, which may read the body) hands the rest to
   * #resume, so that sync middleware and hooks cost no promise per request.
   */
  #pipeline(routed: Routed, context: Context): Plan | Promise<Plan> {
    const { route } = routed;
    const { chain, hooks, input } = route;
    const phases = chain.request.length;
    const steps = phases + hooks.length;
    try {
      for (let i = 0; i < steps; i++) {
        if (i === phases) {
          // The middleware whose request phase answers, and every one outside it, see the answer.
          context.reached = chain.all.length;
          if (input?.params) return this.#resume(routed, context, i, undefined);
        } else if (i < phases) context.reached = chain.requestOwners[i]! + 1;
        const result = (i < phases ? chain.request[i]! : hooks[i - phases]!)(context as RequestContext);
        if (isThenable(result)) return this.#resume(routed, context, i, result);
        const answer = this.#answerOf(result, context, route);
        if (answer !== undefined) return answer;
      }
      if (hooks.length === 0) {
        context.reached = chain.all.length;
        if (input?.params) return this.#resume(routed, context, steps, undefined);
      }
      if (input?.run) return this.#resume(routed, context, steps, undefined, true);
    } catch (error) {
      return this.#fail({ route, match: routed.match, error: toGatewayError(error), stage: 'pipeline', trace: routed.trace, context, platform: context.platform });
    }
    return this.#forward(routed, context.uri, context);
  }

  /**
   * The pipeline from step `at` on (request phases, then hooks), asynchronously: `pending` is the
   * result of step `at` when it returned a promise. `validated` says the path validation ran.
   */
  async #resume(routed: Routed, context: Context, at: number, pending: Promise<HookResult> | undefined, validated = false): Promise<Plan> {
    const { route } = routed;
    const { chain, hooks, input } = route;
    const phases = chain.request.length;
    const steps = phases + hooks.length;
    // A hook's promise comes after the validation; a request phase's, or none at step `phases`, before it.
    let checked = validated || (pending !== undefined ? at >= phases : at > phases);
    const validate = async (): Promise<void> => {
      context.reached = chain.all.length;
      if (input?.params) context.params = (await input.params(routed.params)) as Record<string, string>;
      checked = true;
    };
    try {
      let i = at;
      if (pending !== undefined) {
        const answer = this.#answerOf(await pending, context, route);
        if (answer !== undefined) return answer;
        i += 1;
      }
      for (; i < steps; i++) {
        if (i === phases && !checked) await validate();
        else if (i < phases) context.reached = chain.requestOwners[i]! + 1;
        const answer = this.#answerOf(await (i < phases ? chain.request[i]! : hooks[i - phases]!)(context as RequestContext), context, route);
        if (answer !== undefined) return answer;
      }
      if (!checked) await validate();
      if (input?.run) await input.run(context as InputContext);
    } catch (error) {
      return this.#fail({ route, match: routed.match, error: toGatewayError(error), stage: 'pipeline', trace: routed.trace, context, platform: context.platform });
    }
    return this.#forward(routed, context.uri, context);
  }

  /** What a hook (or request phase) returned: undefined to go on, or the plan of its answer. */
  #answerOf(result: HookResult, context: Context, route: CompiledRoute): RespondPlan | undefined {
    if (result === undefined) return undefined;
    if (isGatewayResponse(result)) {
      return this.#answer(route.chain, { route: route.info, method: context.method, path: context.path, response: result, error: undefined, scope: context, trace: context.trace, platform: context.platform }, context.reached);
    }
    if (isGatewayError(result)) throw result;
    throw new GatewayError('internal', { details: { reason: 'a hook returned a value that is neither a response nor a GatewayError', value: result } });
  }

  /** Picks the backend and plans the forward to `uri`; `context` is there when the pipeline ran. */
  #forward(routed: Routed, uri: string, context?: Context): Plan {
    const { route, match, io, trace } = routed;
    const balancer = route.balancer;
    // A route without middleware has no phase to show a platform to.
    const platform = context?.platform ?? (route.chain === emptyChain ? this.#platform : this.#platformOf(io, route.info));
    let backend: Backend | undefined;
    const view = new PolicyView(routed, this.#client);
    try {
      backend = balancer.pick(view);
    } catch (error) {
      this.#report({ callback: 'balancer.pick', error, route: route.info });
      const failure = new GatewayError('internal', { details: { reason: 'the load-balancing policy failed to pick a backend' }, cause: error });
      return this.#fail({ route, match, error: failure, stage: 'dispatch', trace, context, platform });
    }
    if (backend === undefined) return this.#fail({ route, match, error: new GatewayError('no_backend_available', { details: { service: route.info.service } }), stage: 'dispatch', trace, context, platform });
    const observer = this.observer;
    if (trace !== undefined) observer!.backendSelected?.({ id: trace.id, route: route.info, method: match.method, path: match.path, backend });
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
      runUpstream(route.chain, { route: route.info, method: match.method, path: match.path, backend, attempt: 1, headers: io.headers, platform, get: (key) => scope.get(key) }, this.#report);
    }
    return new Forward({
      route,
      match,
      backend,
      uri,
      view,
      headers: io.headers,
      observer,
      trace,
      report: this.#report,
      replacement: context?.replacement,
      scope,
      renderer: this.renderer,
      platform,
    });
  }

  #fail({ route, match, error, stage, trace, context, reached = context?.reached, platform }: Failure): RespondPlan {
    const observer = this.observer;
    if (observer && trace !== undefined) {
      const event = { id: trace.id, route: route.info, method: match.method, path: match.path, error };
      if (stage === 'pipeline') observer.pipelineFailed?.(event);
      else observer.dispatchFailed?.(event);
    }
    const response = renderError(error, { method: match.method, path: match.path }, this.renderer);
    return this.#answer(route.chain, { route: route.info, method: match.method, path: match.path, response, error, scope: context ?? noScope, trace, platform }, reached);
  }

  /** A match refused as a whole (empty segments): like a bad path parameter, before any phase ran. */
  #refuseEarly(match: Match, error: GatewayError, io: RequestIO, trace: Trace | undefined): RespondPlan {
    const route = compiledOf(match);
    if (route === undefined) {
      const response = renderError(error, { method: match.method, path: match.path }, this.renderer);
      return this.#answer(this.#chain, { route: undefined, method: match.method, path: match.path, response, error, scope: noScope, trace, platform: this.#platformOf(io, undefined) });
    }
    if (trace !== undefined) this.observer!.requestStart?.({ id: trace.id, route: route.info, method: match.method, path: match.path });
    return this.#fail({ route, match, error, stage: 'pipeline', trace, platform: this.#platformOf(io, route.info) });
  }

  #refuseMethod(match: Match, allowed: readonly string[], io: RequestIO, trace: Trace | undefined): RespondPlan {
    const allow = allowed.join(', ');
    const platform = this.#chain === emptyChain ? this.#platform : this.#platformOf(io, undefined);
    const answer = { route: undefined, method: match.method, path: match.path, scope: noScope, trace, platform };
    if (match.method === 'OPTIONS') return this.#answer(this.#chain, { ...answer, response: respond(204, null, { allow }), error: undefined });
    const error = new GatewayError('method_not_allowed', { headers: { allow }, details: { method: match.method } });
    return this.#answer(this.#chain, { ...answer, response: renderError(error, { method: match.method, path: match.path }, this.renderer), error });
  }
}

/** Something the gateway closes with it: a transport and its connection pools. */
export interface Closeable {
  close(): void | Promise<void>;
}

/** A request that failed before it was forwarded, and where: in the pipeline or at the pick. */
interface Failure {
  readonly route: CompiledRoute;
  readonly match: Match;
  readonly error: GatewayError;
  readonly stage: 'pipeline' | 'dispatch';
  readonly trace: Trace | undefined;
  /** The pipeline's context, when the failure came after it was made. */
  readonly context?: Context | undefined;
  /** How many middleware of the chain the request reached; the context's count by default. */
  readonly reached?: number | undefined;
  readonly platform: Platform;
}

/** A response the gateway makes itself, and for whom. */
interface Answer {
  readonly route: RouteInfo | undefined;
  readonly method: string;
  readonly path: string;
  readonly response: GatewayResponse;
  readonly error: GatewayError | undefined;
  readonly scope: ScopeReader;
  readonly trace: Trace | undefined;
  readonly platform: Platform;
}

const noScope: ScopeReader = { get: () => undefined };

/**
 * Collects services and configuration; `build()` validates all of it at once. `TProvided` is the
 * scope the gateway's middleware provide.
 */
export class GatewayBuilder<TState extends object, TProvided extends object = NoScope> {
  readonly #options: GatewayOptions<TState>;
  readonly #mounted: Mounted[] = [];

  constructor(options: GatewayOptions<TState>) {
    this.#options = options;
  }

  /**
   * Mounts a service, with its backends or, when none are given, the ones registered under the
   * service's name in `backends`. A service whose Env declares a scope key that the gateway's
   * middleware provide with another type is refused at compile time.
   */
  mount<TEnv extends Env>(
    service: Service<TEnv> & StateMatches<TState, TEnv> & ScopeMatches<TEnv, TProvided>,
    backends?: readonly BackendInput[],
  ): this {
    this.#mounted.push({ service: service as Service<never>, backends });
    return this;
  }

  /** Validates everything and returns the gateway; throws GatewayBuildError listing every problem. */
  build(): Gateway<TState> {
    return new Gateway(buildGateway(this.#options, this.#mounted));
  }
}

/**
 * Starts a gateway definition.
 * @example
 * const gateway = createGateway({ state: { greeting: 'hi' } })
 *   .mount(sales, ['http://127.0.0.1:3001'])
 *   .build()
 */
export const createGateway = <TState extends object = Record<string, never>, const TUse extends readonly Middleware[] = readonly Middleware[]>(
  options: GatewayOptions<TState, TUse> = {},
): GatewayBuilder<TState, ProvidedBy<TUse>> => new GatewayBuilder(options);

/** A hook's promise (or any thenable, as `await` would take it). */
const isThenable = (value: unknown): value is Promise<HookResult> => typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
