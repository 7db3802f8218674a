import type { GatewayError } from '@apigate/errors';
import type { CompiledRoute } from './compile-route.ts';
import type { BodySource } from './input.ts';
import type { Trace } from './observer.ts';
import type { RuntimePlatform } from './platform.ts';
import type { RequestHeaders, RouteInfo } from './request.ts';

/** What an adapter knows of the request besides method and URL. */
export interface RequestIO {
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  /** The request body, for routes that read it; adapters may compute it lazily. */
  readonly body?: BodySource | undefined;
  /** The runtime's bindings and waitUntil (a Worker's env and ctx); absent on Node. */
  readonly platform?: RuntimePlatform | undefined;
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
export let compiledOf: (match: Match) => CompiledRoute | undefined;
/** Raw param values, or the allowed methods when no route matched. */
export let valuesOf: (match: Match) => readonly string[];
/** The refusal a match carries instead of a route to run (a path with empty segments). */
export let refusalOf: (match: Match) => GatewayError | undefined;

/** What match() found: the request line's parts and the router's answer. */
interface MatchParts {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly compiled: CompiledRoute | undefined;
  /** Raw param values, or the allowed methods when no route matched. */
  readonly values: readonly string[];
  /** Set when the request is the gateway's but is refused before anything runs. */
  readonly refusal?: GatewayError | undefined;
}

/** The one Match implementation: what handle() needs stays in private fields. */
export class GatewayMatch implements Match {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly route: RouteInfo | undefined;
  readonly #compiled: CompiledRoute | undefined;
  readonly #values: readonly string[];
  readonly #refusal: GatewayError | undefined;

  constructor({ method, path, query, compiled, values, refusal }: MatchParts) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.route = compiled?.info;
    this.#compiled = compiled;
    this.#values = values;
    this.#refusal = refusal;
  }

  static {
    compiledOf = (match) => {
      if (!(#compiled in match)) throw new TypeError('gateway.handle() takes what gateway.match() returned');
      return match.#compiled;
    };
    valuesOf = (match) => (match as GatewayMatch).#values;
    refusalOf = (match) => (match as GatewayMatch).#refusal;
  }
}

/** A request whose route matched, as handle() carries it to the backend pick. */
export interface Routed {
  readonly route: CompiledRoute;
  readonly match: Match;
  readonly io: RequestIO;
  /** The decoded path parameters, as the balancer sees them (before any validation). */
  readonly params: Readonly<Record<string, string>>;
  /** The request's identity for the observer; undefined without one. */
  readonly trace: Trace | undefined;
}
