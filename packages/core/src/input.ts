import type { Env } from './env.ts';
import type { RequestContext } from './request.ts';

/** The request body as an adapter offers it to a route that reads it. */
export interface BodySource {
  /** The request's Content-Type, as sent. */
  readonly contentType: string | undefined;
  /** The declared Content-Length; undefined for a chunked body or none. */
  readonly contentLength: number | undefined;
  /**
   * The body the host framework already parsed (express.json(), koa-bodyparser, ...): the stream
   * is gone and this is all there is. Undefined when the stream is unread.
   */
  readonly parsed: { readonly value: unknown } | undefined;
  /**
   * Reads the raw body, up to `limit` bytes. A declared Content-Length over the limit is refused
   * before any byte is read, a longer stream is cut at the limit; both reject with
   * `payload_too_large` and the rest of the body is never read.
   */
  read(limit: number): Promise<Uint8Array>;
}

/** What a route's input stage sees: the request context plus the body and the means to replace. */
export interface InputContext<TParams = Record<string, string>, TEnv extends Env = Env> extends RequestContext<TParams, TEnv> {
  /** The body; undefined when the adapter offers none. */
  readonly body: BodySource | undefined;
  /** The route's body limit in bytes (the gateway's `bodyLimit` unless the route sets one). */
  readonly bodyLimit: number;
  /** Replaces the client's query string (`to`'s own query still comes first). */
  setQuery(query: string): void;
  /** Sends these bytes upstream instead of the client's body, with a matching Content-Length. */
  setBody(bytes: Uint8Array, contentType: string): void;
}

/**
 * The extension point through which a route validates and transforms its input; the validation
 * package implements it. Core runs `params` before the hooks and `run` after them.
 */
export interface RouteInput {
  /** Validates the decoded path parameters; returns the params hooks and `run` see. */
  params?(params: Readonly<Record<string, string>>): unknown;
  /** Reads and checks the query or body, and may rewrite them for the upstream. */
  run?(context: InputContext): void | Promise<void>;
  /** The route's body limit in bytes, when it sets one. */
  readonly limit?: number | undefined;
  /** Configuration problems found when the route was declared; build() reports them. */
  readonly problems?: readonly string[];
  /**
   * What the stage checks, by location (validation: `path`, `query`, `json`, `form` schemas and
   * `multipart`), as declared; `gateway.routes()` lists it for documentation tools.
   */
  readonly schemas?: Readonly<Record<string, unknown>>;
}

/** 2 MiB: the body limit of a route that reads bodies, unless the gateway or route sets another. */
export const defaultBodyLimit = 2 * 1024 * 1024;
