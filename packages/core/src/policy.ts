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
}

/** What a balancer may look at when it picks a backend. */
export interface PolicyRequest {
  readonly route: RouteInfo;
  readonly method: string;
  readonly path: string;
  readonly headers: RequestHeaders;
  /** The client's address as the gateway's socket sees it. */
  readonly clientIp: string | undefined;
  /** Decoded path parameter values, by name; empty for a route without parameters. */
  readonly params: Readonly<Record<string, string>>;
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

/** Round robin, weighted by each backend's `weight`; the gateway's default policy. */
export const roundRobin = (): Policy => ({
  name: 'round-robin',
  create(backends) {
    const ring = backends.flatMap((backend) => Array.from({ length: Math.max(1, Math.round(backend.weight)) }, () => backend));
    let next = 0;
    return {
      pick() {
        if (ring.length === 0) return undefined;
        const backend = ring[next]!;
        next = next + 1 === ring.length ? 0 : next + 1;
        return backend;
      },
    };
  },
});
