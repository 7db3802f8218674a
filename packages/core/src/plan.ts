import type { GatewayError, GatewayResponse } from '@apigate/errors';
import type { AttemptDecision, AttemptFailure } from './exchange/failure.ts';
import type { BodyTransform, ResponseHeaders } from './middleware.ts';
import type { Backend } from './policy.ts';
import type { RouteInfo } from './request.ts';
import type { RouteUpstream } from './upstream.ts';

/** How a forwarded request ended, as a transport reports it. */
export type SettleInput = { readonly status: number } | { readonly error: GatewayError };

/** The request goes to `backend` at `uri`; the transport calls `settle` once when it ends. */
export interface ForwardPlan {
  readonly kind: 'forward';
  readonly route: RouteInfo;
  readonly method: string;
  readonly backend: Backend;
  /** Origin-form upstream path and query, the backend's base path included. */
  readonly uri: string;
  /** Bytes to send instead of the client's body (a validated or mapped body), if any. */
  readonly body: Uint8Array | undefined;
  /** The Content-Type of `body`. */
  readonly contentType: string | undefined;
  /** The route's own upstream timeouts, which win over the gateway's; undefined when it has none. */
  readonly upstream: RouteUpstream | undefined;
  settle(result: SettleInput): void;
  /**
   * The attempt loop: a transport reports each failed attempt here, and does what comes back —
   * send the request again on a fresh connection, or end it (settled already) with an answer or an
   * abort. The error codes, the replay rule and what the client is told live here, once.
   */
  failed(failure: AttemptFailure): AttemptDecision;
  /** Whether middleware has a response phase: only then need a transport call `respond()`. */
  readonly intercepts: boolean;
  /**
   * Runs the response phases over the upstream's response head, before the transport writes it:
   * `headers` is a view of what the client will get (hop-by-hop headers already out). Returns the
   * body transforms they registered, undefined when none (the body then goes as it came).
   */
  respond(status: number, headers: ResponseHeaders): ResponseTransforms | undefined;
  /** The response for an error the transport met before the response started, through the response phases. */
  render(error: GatewayError): GatewayResponse;
  /**
   * Ends a request the transport cannot send (a body it cannot forward, a request it cannot
   * create): settles it with the error and returns the answer to write.
   */
  refuse(error: GatewayError): GatewayResponse;
}

/**
 * The streams a proxied response body flows through, in order (the first gets the upstream's
 * bytes, the client gets what the last makes). Content-Length is already settled in the headers.
 */
export interface ResponseTransforms {
  readonly streams: readonly BodyTransform[];
  /**
   * Reports that `streams[index]` errored, as the response phase of the middleware that added it,
   * and returns the error the request settles with (`internal`). Call it once, for the first
   * failure; the transport settles and aborts the client connection.
   */
  failed(index: number, error: unknown): GatewayError;
}

/** The gateway answers the request itself. */
export interface RespondPlan {
  readonly kind: 'respond';
  readonly response: GatewayResponse;
  /** The error the response renders, when it renders one. */
  readonly error: GatewayError | undefined;
}

export type Plan = ForwardPlan | RespondPlan;
