import type { RequestHeaders, RouteInfo } from './request.ts';

/** One upstream server of a service. */
export interface Backend {
  /** The URL as configured, e.g. `http://10.0.0.5:8080/base`. */
  readonly url: string;
  /** `protocol//host:port` of the backend. */
  readonly origin: string;
  /** A path the upstream URI is appended to (`/base`), or `''`. */
  readonly basePath: string;
  /** Relative share of traffic; 1 unless configured. */
  readonly weight: number;
  /** TLS settings for an `https:` backend, honoured by the Node transport. */
  readonly tls?: BackendTls | undefined;
  /** A Unix domain socket the Node transport connects to instead of the URL's host and port. */
  readonly socketPath?: string | undefined;
}

/** PEM text or its bytes. */
export type Pem = string | Uint8Array;

/**
 * How the gateway speaks TLS to one backend (Node's `tls.connect` options of the same names): the
 * CA that signed its certificate, a client certificate, the SNI name, whether to verify.
 */
export interface BackendTls {
  /** The CA certificates its certificate is checked against, instead of Node's bundled roots. */
  readonly ca?: Pem | readonly Pem[];
  /** A client certificate (PEM chain), with `key`: mutual TLS. */
  readonly cert?: Pem;
  readonly key?: Pem;
  readonly passphrase?: string;
  /** The SNI name sent and checked against the certificate; the URL's host by default. */
  readonly servername?: string;
  /** False skips the certificate check: for tests only, never in production. Default true. */
  readonly rejectUnauthorized?: boolean;
}

/** What a balancer may look at when it picks a backend. */
export interface PolicyRequest {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  readonly headers: RequestHeaders;
  /** The client's address: the peer, or through `upstream.trustedProxies` the address they forwarded for. */
  readonly clientIp: string | undefined;
  /** Decoded path parameter values, by name; empty for a route without parameters. */
  readonly params: Readonly<Record<string, string>>;
  /**
   * Backends not to pick: those a failed attempt already went to, when a retry asks for another.
   * Undefined on a request's first pick. A balancer that ignores it still works: the gateway then
   * takes the first untried backend in configured order.
   */
  readonly exclude?: ReadonlySet<Backend> | undefined;
}

/** How a forwarded request ended, as the balancer hears it. */
export type UpstreamOutcome =
  | { readonly ok: true; readonly status: number; readonly latencyMs: number }
  | { readonly ok: false; readonly code: string; readonly latencyMs: number };

/** Picks one backend of a service per request and hears how each request went. */
export interface PolicyInstance {
  pick(request: PolicyRequest): Backend | undefined;
  /** Called when a request to `backend` starts. */
  start?(backend: Backend): void;
  /** Called once when that request ends, successfully or not. */
  end?(backend: Backend, outcome: UpstreamOutcome): void;
}

/**
 * A named load-balancing policy: makes one balancer per service (and so per backend list) that
 * uses it. The policies package fills this interface with strategies and balancers.
 */
export interface Policy {
  readonly name: string;
  create(backends: readonly Backend[]): PolicyInstance;
}

/**
 * Smooth weighted round robin (the algorithm NGINX uses): each pick adds every candidate's weight
 * to its running score and takes the highest, which then gives back the total. Weights 5/1/1 give
 * a a b a c a a, evenly spread; equal weights give exact rotation. Candidates may vary per pick.
 */
export const smoothRoundRobin = (): ((candidates: readonly Backend[]) => Backend | undefined) => {
  const scores = new Map<Backend, number>();
  return (candidates) => {
    let best: Backend | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (const candidate of candidates) {
      const score = (scores.get(candidate) ?? 0) + candidate.weight;
      scores.set(candidate, score);
      total += candidate.weight;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    if (best !== undefined) scores.set(best, bestScore - total);
    return best;
  };
};

/** Round robin, weighted by each backend's `weight`; the gateway's default policy. */
export const roundRobin = (): Policy => ({
  name: 'round-robin',
  create(backends) {
    const next = smoothRoundRobin();
    return { pick: () => next(backends) };
  },
});
