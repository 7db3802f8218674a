import type { RequestContext } from '@apigate/core';
import { addressPrefix } from './internal/ip.ts';

/**
 * What a request is limited as: a string (requests with the same one share their limits), or
 * undefined for a request the limiter does not apply to.
 */
export type KeyFunction = (ctx: RequestContext) => string | undefined;

export interface ByIpOptions {
  /** Prefix length that one IPv4 key covers; default 32 (one address). */
  ipv4Prefix?: number;
  /**
   * Prefix length that one IPv6 key covers; default 56, the block an ISP commonly gives one site:
   * a client picks any of its 2^72 addresses, so keying by the address alone limits nothing.
   */
  ipv6Prefix?: number;
}

const prefixLength = (value: number, max: number, what: string): number => {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new TypeError(`@apigate/rate-limit: ${what} must be a whole number from 1 to ${max}, got ${String(value)}`);
  return value;
};

/**
 * The client's address as the gateway resolved it (`ctx.clientIp`, through
 * `upstream.trustedProxies`), IPv6 by its /56 prefix. Requests without an address are not limited.
 * @example rateLimit({ key: byIp({ ipv6Prefix: 64 }), limits })
 */
export const byIp = ({ ipv4Prefix = 32, ipv6Prefix = 56 }: ByIpOptions = {}): KeyFunction => {
  const v4 = prefixLength(ipv4Prefix, 32, 'byIp ipv4Prefix');
  const v6 = prefixLength(ipv6Prefix, 128, 'byIp ipv6Prefix');
  return function byIp(ctx) {
    return ctx.clientIp ? `ip:${addressPrefix(ctx.clientIp, v4, v6)}` : undefined;
  };
};

/**
 * A request header's value (an API key, a tenant id). Requests without it are not limited unless a
 * `fallback` key is given, so put the check that requires the header before the limiter.
 * @example byHeader('x-api-key', { fallback: byIp() })
 */
export const byHeader = (name: string, { fallback }: { fallback?: KeyFunction } = {}): KeyFunction => {
  const header = name.toLowerCase();
  return function byHeader(ctx) {
    const value = ctx.headers.get(header);
    return value ? `header:${header}:${value}` : fallback?.(ctx);
  };
};

/**
 * A per-request scope value that an earlier middleware set: the API-key consumer, a JWT `sub`.
 * `select` picks the string out of an object value (`(consumer) => consumer.id`); a string or
 * number is used as it is. Requests without the value are not limited unless `fallback` is given.
 * @example byScope('claims', { select: (claims) => (claims as { sub: string }).sub })
 */
export const byScope = (key: PropertyKey, { select, fallback }: { select?: (value: unknown) => unknown; fallback?: KeyFunction } = {}): KeyFunction =>
  function byScope(ctx) {
    const raw = (ctx as RequestContext<Record<string, string>, { scope: Record<PropertyKey, unknown> }>).get(key);
    const value = raw === undefined || select === undefined ? raw : select(raw);
    if (typeof value === 'string' && value !== '') return `scope:${String(key)}:${value}`;
    if (typeof value === 'number' && Number.isFinite(value)) return `scope:${String(key)}:${value}`;
    return fallback?.(ctx);
  };

/** The matched route (`GET /sales/orders/{id}`): one limit for everyone on it. */
export const byRoute = (): KeyFunction =>
  function byRoute(ctx) {
    return `route:${ctx.route.method} ${ctx.route.path}`;
  };

/** Every request the same key: one limit for everything the limiter is attached to. */
export const allRequests = (): KeyFunction =>
  function allRequests() {
    return 'all';
  };

/** Several keys joined: `[byRoute(), byIp()]` limits each client on each route. Undefined if any is. */
export const joinKeys = (keys: readonly KeyFunction[]): KeyFunction =>
  function joined(ctx) {
    const parts: string[] = [];
    for (const key of keys) {
      const part = key(ctx);
      if (part === undefined) return undefined;
      parts.push(part);
    }
    return parts.join('|');
  };
