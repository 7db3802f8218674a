import type { ForwardPlan } from './plan.ts';

/** How the gateway talks to upstreams; transports read it, core only carries it. */
export interface UpstreamConfig {
  /** Milliseconds to establish a connection. Default 5 000. */
  connectTimeout?: number;
  /**
   * Milliseconds the upstream may stay silent (no bytes sent or received) during a request, as
   * NGINX's proxy_read_timeout. Before the response starts it gives 504; after, the client
   * connection is aborted. Default 30 000.
   */
  requestTimeout?: number;
  /** Milliseconds an idle pooled connection is kept. Default 90 000. */
  idleTimeout?: number;
  /** Idle connections kept per upstream host. Default unlimited. */
  maxIdleSockets?: number;
  /** TCP_NODELAY on upstream sockets. Default true. */
  noDelay?: boolean;
  /**
   * Addresses (IPs or CIDR ranges) of proxies in front of the gateway whose X-Forwarded-* and
   * Forwarded headers are trusted and extended. From anyone else those headers are replaced.
   */
  trustedProxies?: readonly string[];
  /** Send the client's Host header upstream instead of the backend's host. Default false. */
  preserveHost?: boolean;
}

export const upstreamDefaults = {
  connectTimeout: 5_000,
  requestTimeout: 30_000,
  idleTimeout: 90_000,
  maxIdleSockets: Number.POSITIVE_INFINITY,
  noDelay: true,
  trustedProxies: [] as readonly string[],
  preserveHost: false,
} satisfies Required<UpstreamConfig>;

/** Transports implement this: forward one planned request and report how it ended. */
export interface Transport<TExchange> {
  forward(exchange: TExchange, plan: ForwardPlan): void;
}
