import { GatewayError } from '@apigate/errors';

/**
 * The codes transports report, by what they mean: Node's socket errors, http-proxy-3's connect
 * timeout, undici's (Node's fetch) and the two timers every transport runs (DESIGN.md rule 7).
 * ENOENT is a Unix-socket backend whose socket file is not there.
 */
const timedOut = new Set(['UPSTREAM_TIMEOUT', 'ECONNECT_TIMEOUT', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const unreachable = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'NO_BINDING']);
const reset = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** The code a transport's timer gives an attempt when the upstream stayed silent too long. */
export const upstreamTimeoutCode = 'UPSTREAM_TIMEOUT';
/** The code a transport's timer gives an attempt when the client stayed silent too long. */
export const clientTimeoutCode = 'CLIENT_TIMEOUT';
/**
 * The code of an attempt to a `binding://NAME` backend whose binding the platform env lacks (or
 * a transport that has no env): like a name that does not resolve, the upstream is unreachable.
 */
export const noBindingCode = 'NO_BINDING';
/** The code of an attempt the transport ended because the client went away. */
export const clientGoneCode = 'CLIENT_GONE';

/** The error code a transport's failure carries: its own, or its cause's (fetch wraps the socket's). */
export const failureCode = (error: unknown): string => {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === 'string' ? cause : '';
};

/**
 * Maps what a transport met to the gateway's error, for every transport alike. workerd names no
 * cause: it says "Network connection lost." for a refused connection and a reset alike, which
 * reads as `upstream_unreachable`.
 */
export const upstreamFailure = (error: unknown, replayed = false): GatewayError => {
  const code = failureCode(error);
  const reason = (error as Error | null)?.message;
  const details = replayed ? { upstreamCode: code, reason, replayed } : { upstreamCode: code, reason };
  if (code === clientTimeoutCode || code === clientGoneCode) {
    // The client stalled or left, not the upstream: the backend is not blamed.
    return new GatewayError('client_closed', { details: { reason }, cause: error });
  }
  if (timedOut.has(code)) return new GatewayError('upstream_timeout', { details, cause: error });
  if (unreachable.has(code) || (code === '' && /network connection lost/i.test(String(reason)))) return new GatewayError('upstream_unreachable', { details, cause: error });
  if (reset.has(code)) return new GatewayError('upstream_reset', { details, cause: error });
  return new GatewayError('bad_gateway', { details, cause: error });
};

/** An error a transport's timers and abort paths raise, with the code upstreamFailure() maps. */
export class TransportError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'TransportError';
    this.code = code;
  }
}

/** What a transport tells the exchange of an attempt that failed. */
export interface AttemptFailure {
  /** What the transport met: a socket or fetch error, or a TransportError of its own timers. */
  readonly error: unknown;
  /**
   * The attempt met a stale pooled connection: the socket came from the pool, it was reset or hung
   * up, and not one byte of a response arrived on it — the upstream never read the request.
   */
  readonly stale: boolean;
  /** The body sent can be sent again (there is none, or the gateway holds its bytes). */
  readonly replayable: boolean;
  /** The response head reached the client (the failure is mid-body): there is no answer to give it. */
  readonly started: boolean;
}

/**
 * What the exchange decided about a failed attempt: send it again on a fresh connection (a stale
 * pooled one met), send a new attempt (a retry middleware asked), or end the request. An ended request has been settled with `error`; when
 * `answer` is set the client still gets a response rendering it (and `close` says its
 * connection closes after), else its connection is aborted.
 */
export type AttemptDecision =
  | { readonly next: 'replay' }
  /**
   * A new attempt: send the request again to the plan's `backend` at its `uri` (read them again:
   * the backend may be another), on a pooled connection; the upstream phases have run for it.
   */
  | { readonly next: 'retry' }
  | { readonly next: 'end'; readonly error: GatewayError; readonly answer: GatewayError | undefined; readonly close: boolean };
