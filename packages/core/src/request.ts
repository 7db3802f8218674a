import type { GatewayError, GatewayResponse } from '@apigate/errors';
import type { BindingsOf, Env, ScopeOf, StateOf } from './env.ts';
import type { Platform } from './platform.ts';

/** A mutable view of the headers that go upstream; names are case-insensitive. */
export interface RequestHeaders {
  get(name: string): string | undefined;
  has(name: string): boolean;
  set(name: string, value: string): void;
  delete(name: string): void;
}

/** Where a request matched: the service and the route template. */
export interface RouteInfo {
  readonly service: string;
  readonly method: string;
  /** The full public template, prefix included: `/sales/item/{id}/review`. */
  readonly path: string;
}

/** What a hook sees of a request: typed path params, app state and per-request scope. */
export interface RequestContext<TParams = Record<string, string>, TEnv extends Env = Env> {
  readonly method: string;
  /** The path the client asked for, without the query string (percent-encoding kept). */
  readonly path: string;
  /** The raw query string without `?`; empty when there is none. */
  readonly query: string;
  /** Decoded path parameters. */
  readonly params: TParams;
  /** The request headers; changes here are what the upstream receives. */
  readonly headers: RequestHeaders;
  /** The client's address: the peer, or through `upstream.trustedProxies` the address they forwarded for. */
  readonly clientIp: string | undefined;
  readonly route: RouteInfo;
  /** Shared app state, as given to `createGateway({ state })`. */
  readonly state: StateOf<TEnv>;
  /** The runtime's bindings (`env`) and `waitUntil`; see Platform. */
  readonly platform: Platform<BindingsOf<TEnv>>;
  /** Reads a per-request scope value set by an earlier hook. */
  get<K extends keyof ScopeOf<TEnv>>(key: K): ScopeOf<TEnv>[K] | undefined;
  /** Sets a per-request scope value for later hooks. */
  set<K extends keyof ScopeOf<TEnv>>(key: K, value: ScopeOf<TEnv>[K]): void;
  /**
   * The upstream path and query (`/api/v2/reviews/42?x=1`), after the route's rewrite. Set it to
   * rewrite the URI; it must be an origin-form path starting with a single `/`.
   */
  uri: string;
}

/** What a hook may return: nothing to go on, or a response or error that ends the request. */
export type HookResult = void | undefined | GatewayResponse | GatewayError;

/**
 * The neutral middleware contract: a function of the request context that goes on by returning
 * nothing, or ends the request by returning (or throwing) a GatewayError or returning a response
 * built with `respond()`/`json()`.
 */
export type Hook<TParams = Record<string, string>, TEnv extends Env = Env> = (
  context: RequestContext<TParams, TEnv>,
) => HookResult | Promise<HookResult>;
