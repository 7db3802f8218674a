import type { GatewayError, GatewayResponse } from '@apigate/errors';
import type { Env, NoScope, StateOf, WithScope } from './env.ts';
import type { CallbackFailure } from './guard.ts';
import type { Platform } from './platform.ts';
import type { Backend } from './policy.ts';
import type { Hook, RequestHeaders, RouteInfo } from './request.ts';

/** A mutable view of the response headers the client gets; names are case-insensitive. */
export interface ResponseHeaders {
  /** The value, repeated values joined with `, ` (Set-Cookie is better read with `values`). */
  get(name: string): string | undefined;
  /** Every value of the header, in order. */
  values(name: string): readonly string[];
  has(name: string): boolean;
  set(name: string, value: string | readonly string[]): void;
  /** Adds a value after the existing ones (a second Set-Cookie). */
  append(name: string, value: string): void;
  delete(name: string): void;
}

/** Reads the per-request scope values that the request phase (middleware, hooks) set. */
export interface ScopeReader {
  get(key: PropertyKey): unknown;
}

/** What every phase after the request phase sees besides the request: the platform it runs on. */
export interface PhaseContext extends ScopeReader {
  /** The runtime's bindings (`env`) and `waitUntil`; see Platform. */
  readonly platform: Platform;
}

/** What a middleware's `init` gets, once, when the gateway is built. */
export interface InitContext<TEnv extends Env = Env> {
  /** Shared app state, as given to `createGateway({ state })`. */
  readonly state: StateOf<TEnv>;
  /**
   * Reports a failure of the middleware's own background work (a refresh that failed) through
   * the observer's `callbackFailed`, as `<name>.background`.
   */
  report(error: unknown): void;
}

/** What the upstream phase sees: one attempt, after the backend was picked, before sending. */
export interface UpstreamContext extends PhaseContext {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  readonly backend: Backend;
  /** 1 for the first attempt, 2 for the first retry; a replay on a fresh connection is not a new attempt. */
  readonly attempt: number;
  /** The headers that go upstream: set `traceparent` and the like here. */
  readonly headers: RequestHeaders;
}

/**
 * What the retry phase sees: an attempt that failed before any byte of a response reached the
 * client, whose request body can be sent again (there is none, or the gateway holds its bytes).
 */
export interface RetryContext extends PhaseContext {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  /** The attempt that failed: 1 for the first. */
  readonly attempt: number;
  /** The backend it went to. */
  readonly backend: Backend;
  /** Every backend the request went to so far, in order: `backend` is the last. */
  readonly tried: readonly Backend[];
  /** What the attempt met, as the client is told if nothing is sent again. */
  readonly error: GatewayError;
  /**
   * Another of the route's backends, through its balancer and skipping every one tried; undefined
   * when none is left. Only configured backends are ever sent to.
   */
  other(): Backend | undefined;
}

/**
 * A stream the response body flows through on its way to the client: a Web `TransformStream`
 * (`new TransformStream({ transform(chunk, controller) { … } })`), a `CompressionStream`, or any
 * pair of a writable side the gateway writes the body into and a readable side it sends on.
 */
export type BodyTransform = ReadableWritablePair<Uint8Array, Uint8Array>;

/** What the response phase sees: the head of the response the client is about to get. */
export interface ResponseContext extends PhaseContext {
  /** The matched route; undefined for a gateway path answered 405 or OPTIONS. */
  readonly route: RouteInfo | undefined;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Add, replace or remove what the client gets. */
  readonly headers: ResponseHeaders;
  /** False for an upstream's response; true for one the gateway made (an error, 405, OPTIONS, a hook's answer). */
  readonly gatewayMade: boolean;
  /** The error a gateway-made response renders, if it renders one. */
  readonly error: GatewayError | undefined;
  /**
   * Streams the body of a proxied response through `stream`, chunk by chunk as it arrives (never
   * buffered by the gateway, backpressure kept); returns whether it will. Each call adds one, in
   * the order the response phases run (route → service → gateway), so a gateway-level transform
   * gets what a route-level one made. Content-Length is dropped (the body is sent chunked)
   * unless a response phase sets it after its call. Returns false, and the stream is not used,
   * when there is no body to transform: a HEAD request, a 1xx, 204 or 304 status, or a
   * gateway-made response (`gatewayMade`: errors, 405, a hook's answer), whose small body is
   * the gateway's own. A stream that errors aborts the client connection and settles the request
   * with `internal`, reported as this middleware's `response` failure.
   */
  transform(stream: BodyTransform): boolean;
}

/** How a request ended, once, however it ended. */
export interface SettleEvent extends PhaseContext {
  readonly route: RouteInfo | undefined;
  readonly method: string;
  readonly path: string;
  /** The status the client got; undefined when no response was (fully) given. */
  readonly status: number | undefined;
  /** What went wrong, when something did: a refusal, an upstream fault, `client_closed`. */
  readonly error: GatewayError | undefined;
  /** The backend, when one was picked. */
  readonly backend: Backend | undefined;
  /** Milliseconds from the match to the end. */
  readonly durationMs: number;
}

/** Type-level only: carries what a middleware declares it puts in scope. */
declare const provides: unique symbol;

/**
 * The one extension contract of the request lifecycle: a named object of optional phases. Attach
 * it to the whole gateway (`createGateway({ use })`), a service (`service({ use })`) or a route
 * (`get(path, { use })`). Request and upstream phases run gateway → service → route, response
 * phases the other way round (an onion); settle runs once per request, in the same order as
 * response. Make middleware with a factory that takes its options.
 *
 * `TEnv` is what the middleware reads (state, scope set before it); `TProvides` the scope values
 * its request phase sets, which its `set` is checked against and which the hooks and maps of the
 * routes it is attached to read typed. A `Middleware` without `TProvides` declares none and fits
 * wherever middleware go.
 * @example
 * const requestId = ({ header = 'x-request-id' }: RequestIdOptions = {}): Middleware<Env, { requestId: string }> => ({
 *   name: 'request-id',
 *   request: (ctx) => { if (!ctx.headers.has(header)) ctx.headers.set(header, crypto.randomUUID()); ctx.set('requestId', ctx.headers.get(header)!); },
 *   response: (ctx) => { ctx.headers.set(header, String(ctx.get('requestId'))); },
 * });
 */
// `any` as the default keeps a Middleware that declares nothing (the adapters', `use` lists)
// assignable from every typed one: a declared `{}` would make `TProvides` invariant through the
// request phase's `set`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Middleware<TEnv extends Env = Env, TProvides extends object = any> {
  /** Shown in errors, `gateway.routes()` and reports of a callback that threw. */
  readonly name: string;
  /**
   * Before the route's own hooks: read and set headers, the upstream URI and scope values; end the
   * request by returning (or throwing) a GatewayError or returning a response.
   */
  readonly request?: Hook<Record<string, string>, WithScope<TEnv, TProvides>>;
  /** Once per attempt, after the backend is picked and before the request is sent. Synchronous. */
  readonly upstream?: (context: UpstreamContext) => void;
  /**
   * When an attempt failed before any byte of a response reached the client and its body can be
   * sent again: returns the backend the next attempt goes to (`context.backend` for the same one,
   * `context.other()` for another), or undefined to leave it to the next middleware. Asked route
   * first, gateway last; the first answer wins; with none the request ends with the error. The
   * retry policies (which failures, how many attempts, budgets) are the middleware's. Synchronous.
   */
  readonly retry?: (context: RetryContext) => Backend | undefined;
  /** When the response head is known, for proxied and gateway-made responses alike. Synchronous. */
  readonly response?: (context: ResponseContext) => void;
  /** Exactly once per request, however it ended. */
  readonly settle?: (event: SettleEvent) => void;
  /** What the middleware declares about the routes it is on, for `gateway.routes()` (OpenAPI). */
  readonly describe?: Readonly<Record<string, unknown>>;
  /**
   * Acquires what the middleware holds (a client, a key set, a timer), once per gateway, when
   * `build()` returns; `gateway.ready()` resolves when every init did. Requests that reach the
   * middleware wait for its init; if the init failed they are answered 503
   * `middleware_unavailable`. Timers it starts should be `unref()`ed where the runtime has that.
   */
  readonly init?: (context: InitContext<TEnv>) => void | Promise<void>;
  /** Releases what the middleware holds (timers, clients); `gateway.close()` calls it once. */
  readonly close?: () => void | Promise<void>;
  /** Never set: only types read it (see ProvidedBy). */
  readonly [provides]?: TProvides;
}

/** What one middleware, or the middleware a factory makes, declares it provides. */
type ProvidedByOne<T> = T extends (...args: never) => infer R
  ? ProvidedByOne<R>
  : T extends { readonly [provides]?: infer P }
    ? unknown extends P
      ? NoScope
      : 0 extends 1 & P
        ? NoScope
        : Exclude<P, undefined>
    : NoScope;

type Intersect<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/**
 * The scope values a middleware provides: of a middleware, its factory or a list of either (all
 * of them). Build an Env from it for routes that read what gateway-level middleware set.
 * @example type AppEnv = { state: AppState; scope: ProvidedBy<[typeof auth, typeof tier]> }
 */
export type ProvidedBy<T> = T extends readonly unknown[]
  ? [T[number]] extends [never]
    ? NoScope
    : { [K in keyof Intersect<ProvidedByOne<T[number]>>]: Intersect<ProvidedByOne<T[number]>>[K] }
  : { [K in keyof ProvidedByOne<T>]: ProvidedByOne<T>[K] };

/** A route's middleware from every level, gateway first, with the phases each has. */
export interface Chain {
  readonly all: readonly Middleware[];
  readonly request: readonly Hook[];
  /** For each request phase, the index in `all` of the middleware it belongs to. */
  readonly requestOwners: readonly number[];
  readonly upstream: readonly Middleware[];
  /** Route first, gateway last: who decides whether a failed attempt goes again. */
  readonly retry: readonly Middleware[];
  /** In the order they run: route first, gateway last. */
  readonly response: readonly Middleware[];
  readonly settle: readonly Middleware[];
  /** The middleware with an `init`, whose end a request waits for. */
  readonly init: readonly Middleware[];
}

export const emptyChain: Chain = { all: [], request: [], requestOwners: [], upstream: [], retry: [], response: [], settle: [], init: [] };

/** Compiles the middleware of the gateway, a service and a route into one chain (build time). */
export const compileChain = (levels: readonly (readonly Middleware[])[]): Chain => {
  const all = levels.flat();
  if (all.length === 0) return emptyChain;
  return {
    all,
    request: all.flatMap((m) => (m.request ? [m.request as Hook] : [])),
    requestOwners: all.flatMap((m, i) => (m.request ? [i] : [])),
    upstream: all.filter((m) => m.upstream !== undefined),
    retry: all.filter((m) => m.retry !== undefined).reverse(),
    response: all.filter((m) => m.response !== undefined).reverse(),
    settle: all.filter((m) => m.settle !== undefined).reverse(),
    init: all.filter((m) => m.init !== undefined),
  };
};

type Report = (failure: CallbackFailure) => void;

/** How the response or settle phases run for one request. */
export interface PhaseRun {
  /** Where a phase that throws is reported. */
  readonly report: Report;
  /** How many middleware of the chain had their request phase run; all of them when absent. */
  readonly reached?: number | undefined;
  /** Told which middleware's phase runs next (who registered a body transform). */
  readonly visit?: ((middleware: Middleware) => void) | undefined;
}

/** `transform` of a response with no body the gateway streams: the stream is not used. */
export const noTransform = (): boolean => false;

/**
 * Runs the response phases over a response head. `reached`, when given, is how many middleware
 * of the chain had their request phase run: a request that a middleware answered itself passes
 * only through it and the ones outside it, as in an onion.
 */
export const runResponse = (chain: Chain, context: ResponseContext, { report, reached = chain.all.length, visit }: PhaseRun): void => {
  for (const middleware of chain.response) {
    if (reached < chain.all.length && chain.all.indexOf(middleware) >= reached) continue;
    visit?.(middleware);
    try {
      middleware.response!(context);
    } catch (error) {
      report({ callback: `${middleware.name}.response`, error, route: context.route });
    }
  }
};

/** Runs the settle phases, of the middleware the request reached only (see runResponse). */
export const runSettle = (chain: Chain, event: SettleEvent, { report, reached = chain.all.length }: PhaseRun): void => {
  for (const middleware of chain.settle) {
    if (reached < chain.all.length && chain.all.indexOf(middleware) >= reached) continue;
    try {
      middleware.settle!(event);
    } catch (error) {
      report({ callback: `${middleware.name}.settle`, error, route: event.route });
    }
  }
};

export const runUpstream = (chain: Chain, context: UpstreamContext, report: Report): void => {
  for (const middleware of chain.upstream) {
    try {
      middleware.upstream!(context);
    } catch (error) {
      report({ callback: `${middleware.name}.upstream`, error, route: context.route });
    }
  }
};

/** The headers of a gateway-made response as a ResponseHeaders view; edits land in `headers`. */
export class RecordHeaders implements ResponseHeaders {
  readonly #headers: Record<string, string | readonly string[]>;

  constructor(headers: Record<string, string | readonly string[]>) {
    this.#headers = headers;
  }

  #key(name: string): string | undefined {
    const lower = name.toLowerCase();
    if (Object.hasOwn(this.#headers, lower)) return lower;
    return Object.keys(this.#headers).find((key) => key.toLowerCase() === lower);
  }

  get(name: string): string | undefined {
    const key = this.#key(name);
    if (key === undefined) return undefined;
    const value = this.#headers[key]!;
    return typeof value === 'string' ? value : value.join(', ');
  }

  values(name: string): readonly string[] {
    const key = this.#key(name);
    if (key === undefined) return [];
    const value = this.#headers[key]!;
    return typeof value === 'string' ? [value] : value;
  }

  has(name: string): boolean {
    return this.#key(name) !== undefined;
  }

  set(name: string, value: string | readonly string[]): void {
    this.delete(name);
    this.#headers[name.toLowerCase()] = typeof value === 'string' ? value : [...value];
  }

  append(name: string, value: string): void {
    const existing = this.values(name);
    this.set(name, existing.length === 0 ? value : [...existing, value]);
  }

  delete(name: string): void {
    const key = this.#key(name);
    if (key !== undefined) delete this.#headers[key];
  }
}

/** A gateway-made response with the response phases applied; the original stays untouched. */
export const respondThrough = (
  response: GatewayResponse,
  run: (headers: ResponseHeaders) => void,
): GatewayResponse => {
  const headers: Record<string, string | readonly string[]> = { ...response.headers };
  run(new RecordHeaders(headers));
  return { ...response, headers };
};
