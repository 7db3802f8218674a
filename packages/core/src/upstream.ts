import type { BuildProblem } from '@apigate/errors';
import { trustMatcher } from './exchange/trust.ts';
import type { ForwardPlan } from './plan.ts';

/** How the gateway talks to upstreams; transports read it, core only carries it. */
export interface UpstreamConfig {
  /** Milliseconds to establish a connection. Default 5 000. */
  connectTimeout?: number;
  /**
   * Milliseconds the upstream may stay silent while the gateway waits on it, as NGINX's
   * proxy_read_timeout: for the response head once the request (and its upload) is sent, for
   * upload bytes the upstream does not accept, and between response chunks while the client
   * keeps up. Time the gateway spends waiting on the client (its next upload bytes, or reading
   * a response it has fallen behind on) does not count: that is `clientTimeout`'s. Expiry before
   * the response starts gives 504 upstream_timeout; after, the client connection is aborted.
   * Default 30 000.
   */
  requestTimeout?: number;
  /**
   * Milliseconds the client may stay silent while the gateway waits on it: between the bytes of
   * an upload it is sending, or while it reads nothing of a response it has fallen behind on (as
   * NGINX's client_body_timeout and send_timeout). Expiry before the response starts gives 408
   * request_timeout and closes the connection; after, the client connection is aborted. Either
   * way the request settles as client_closed: the backend is not blamed. Default 60 000.
   */
  clientTimeout?: number;
  /**
   * Milliseconds an idle pooled connection is kept. An upstream's `Keep-Alive: timeout=N` hint
   * shortens it to N − 1 s for that connection (N ≤ 1: not pooled). Default 4 000: below the 5 s
   * keep-alive of Node's and uvicorn's servers, which close idle connections silently, so that
   * the gateway retires a connection before the upstream would (a request sent just as the
   * upstream closes the connection fails; with a body the gateway holds it is replayed, with a
   * streamed one it cannot be). Raise it for upstreams known to keep connections longer (NGINX
   * 75 s, a load balancer's 60 s).
   */
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

/**
 * The upstream settings a route may set for itself, over the gateway's: a long poll or a stream
 * that stays silent longer than the gateway's requestTimeout, a slow upload; Cloudflare's `cf`
 * fetch options.
 */
export type RouteUpstream = Pick<UpstreamConfig, 'requestTimeout' | 'clientTimeout'> & {
  /**
   * Cloudflare's `cf` options of the upstream fetch on Workers (`cacheTtl`, `cacheEverything`,
   * `cacheKey`, `cacheTtlByStatus`, …), passed as they are by the fetch transport; the Node
   * transport and fetch elsewhere ignore them.
   */
  cf?: Readonly<Record<string, unknown>>;
};

export const upstreamDefaults = {
  connectTimeout: 5_000,
  requestTimeout: 30_000,
  clientTimeout: 60_000,
  idleTimeout: 4_000,
  maxIdleSockets: Number.POSITIVE_INFINITY,
  noDelay: true,
  trustedProxies: [] as readonly string[],
  preserveHost: false,
} satisfies Required<UpstreamConfig>;

/** Transports implement this: forward one planned request and report how it ended. */
export interface Transport<TExchange> {
  forward(exchange: TExchange, plan: ForwardPlan): void;
}

/** Whether an entry of `trustedProxies` is an IPv4/IPv6 address or CIDR range. */
const isAddressOrRange = (entry: string): boolean => {
  try {
    trustMatcher([entry]);
    return true;
  } catch {
    return false;
  }
};

/** The configuration problems of an upstream config, for build(). */
export const upstreamProblems = (config: UpstreamConfig): BuildProblem[] => {
  const problems: BuildProblem[] = [];
  for (const name of ['connectTimeout', 'requestTimeout', 'clientTimeout', 'idleTimeout', 'maxIdleSockets'] as const) {
    const value = config[name];
    if (value !== undefined && !(typeof value === 'number' && value > 0 && (Number.isFinite(value) || name === 'maxIdleSockets'))) {
      problems.push({ code: 'invalid_option', at: `upstream.${name}`, message: `must be a positive number of ${name === 'maxIdleSockets' ? 'sockets' : 'milliseconds'}, got ${String(value)}` });
    }
  }
  for (const entry of config.trustedProxies ?? []) {
    if (!isAddressOrRange(entry)) problems.push({ code: 'invalid_option', at: 'upstream.trustedProxies', message: `"${entry}" is not an IP address or CIDR range` });
  }
  return problems;
};

const routeSettings: readonly string[] = ['requestTimeout', 'clientTimeout', 'cf'] satisfies (keyof RouteUpstream)[];

/** The problems of a route's `upstream` option, for build(); `at` names the route. */
export const routeUpstreamProblems = (upstream: unknown, at: string): BuildProblem[] => {
  if (upstream === undefined) return [];
  if (typeof upstream !== 'object' || upstream === null) return [{ code: 'invalid_option', at: `${at} upstream`, message: 'must be an object such as { requestTimeout: 120_000 }' }];
  const problems: BuildProblem[] = [];
  for (const [name, value] of Object.entries(upstream)) {
    if (!routeSettings.includes(name)) {
      problems.push({ code: 'invalid_option', at: `${at} upstream.${name}`, message: `is not a per-route upstream setting (${routeSettings.join(', ')})` });
    } else if (name === 'cf') {
      if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) problems.push({ code: 'invalid_option', at: `${at} upstream.cf`, message: 'must be an object of Cloudflare fetch options such as { cacheTtl: 60 }' });
    } else if (value !== undefined && !(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
      problems.push({ code: 'invalid_option', at: `${at} upstream.${name}`, message: `must be a positive number of milliseconds, got ${String(value)}` });
    }
  }
  return problems;
};
