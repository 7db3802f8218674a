import { GatewayError } from '@apigate/errors';
import type { BodySource, InputContext } from './input.ts';
import type { Match, RequestIO } from './match.ts';
import type { Trace } from './observer.ts';
import type { Platform } from './platform.ts';
import type { RequestHeaders, RouteInfo } from './request.ts';
import { withQuery } from './rewrite.ts';
import { originForm, unsafeInUri } from './target.ts';

/** What handle() knows when the pipeline starts. */
export interface ContextParts {
  readonly state: object;
  readonly match: Match;
  readonly io: RequestIO;
  readonly params: Record<string, string>;
  /** The rewritten upstream path, before `to`'s query and the client's. */
  readonly upstreamPath: string;
  /** `to`'s own query, which comes first. */
  readonly toQuery: string;
  readonly bodyLimit: number;
  /** The client's address, resolved through the trusted proxies. */
  readonly clientIp: string | undefined;
  readonly trace: Trace | undefined;
  readonly platform: Platform;
}

/** What hooks, middleware request phases and the input stage see of one request, and change. */
export class Context implements InputContext {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  params: Record<string, string>;
  readonly headers: RequestHeaders;
  readonly clientIp: string | undefined;
  readonly route: RouteInfo;
  readonly state: never;
  readonly platform: Platform;
  readonly body: BodySource | undefined;
  readonly bodyLimit: number;
  replacement: { readonly body: Uint8Array; readonly contentType: string } | undefined;
  /** How many middleware of the route's chain had their request phase run. */
  reached: number | undefined;
  readonly trace: Trace | undefined;
  readonly #upstreamPath: string;
  readonly #toQuery: string;
  #upstreamQuery: string;
  /** A URI a hook set; it wins over the rewrite. */
  #uri: string | undefined;
  #scope: Map<PropertyKey, unknown> | undefined;

  constructor({ state, match, io, params, upstreamPath, toQuery, bodyLimit, clientIp, trace, platform }: ContextParts) {
    this.method = match.method;
    this.path = match.path;
    this.query = match.query;
    this.params = params;
    this.headers = io.headers;
    this.clientIp = clientIp;
    this.trace = trace;
    this.route = match.route!;
    this.state = state as never;
    this.platform = platform;
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
