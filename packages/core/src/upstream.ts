import type { BuildProblem } from '@apigate/errors';
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

const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const isIPv6 = (address: string): boolean => {
  if (!address.includes(':')) return false;
  try {
    return new URL(`http://[${address}]/`).hostname.length > 2;
  } catch {
    return false;
  }
};

/** Whether an entry of `trustedProxies` is an IPv4/IPv6 address or CIDR range. */
export const isAddressOrRange = (entry: string): boolean => {
  const [address = '', bits, extra] = entry.split('/');
  if (extra !== undefined) return false;
  const max = ipv4.test(address) ? 32 : isIPv6(address) ? 128 : -1;
  if (max === -1) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
};

/** The configuration problems of an upstream config, for build(). */
export const upstreamProblems = (config: UpstreamConfig): BuildProblem[] => {
  const problems: BuildProblem[] = [];
  for (const name of ['connectTimeout', 'requestTimeout', 'idleTimeout', 'maxIdleSockets'] as const) {
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
