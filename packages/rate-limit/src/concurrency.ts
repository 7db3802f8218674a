import type { Middleware, ResponseContext } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { applyHeaders, rateLimitHeaders, styles, type HeaderOptions, type PolicyReport } from './headers.ts';
import { shortKey } from './internal/hash.ts';
import { quotaExceeded } from './internal/problem.ts';
import { readScope, setScope } from './internal/scope.ts';
import { allRequests, joinKeys, type KeyFunction } from './keys.ts';

export interface ConcurrencyLimitOptions {
  /** How many requests of one key may be in flight at once. */
  max: number;
  /** Shown in gateway.routes(), and the policy's name in the RateLimit headers; default `'concurrency'`. */
  name?: string;
  /** What requests are counted together; default all of them (`allRequests()`). A list is joined. */
  key?: KeyFunction | readonly KeyFunction[];
  headers?: HeaderOptions;
}

/** What a request holds: released once, in settle, however the request ended. */
interface Lease {
  readonly key: string;
  released: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * At most `max` requests in flight per key, in this process: a request over it is refused with 429
 * `rate_limited` at once (no queue), and each admitted one frees its place when it settles — a
 * response, an error, a timeout or a client that left. A request refused before this limiter's
 * request phase ran never held a place and frees none.
 * @example get('/export', { use: [concurrencyLimit({ max: 2, key: byIp() })] })
 */
export const concurrencyLimit = ({ max, name = 'concurrency', key = allRequests(), headers: headerOptions = {} }: ConcurrencyLimitOptions): Middleware => {
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`@apigate/rate-limit: concurrencyLimit max must be a positive whole number, got ${String(max)}`);
  const keyOf = typeof key === 'function' ? key : joinKeys(key);
  const which = styles(headerOptions.style);
  const inFlight = new Map<string, number>();
  const slot = Symbol(name);
  const policy = (remaining: number): PolicyReport => ({ name, quota: max, windowSeconds: undefined, unit: 'concurrent-requests', remaining, resetSeconds: undefined });

  return {
    name,
    describe: { 'rate-limit': { name, concurrency: max } },
    request: function concurrencyLimit(ctx) {
      const raw = keyOf(ctx);
      if (raw === undefined) return undefined;
      const k = shortKey(raw);
      const held = inFlight.get(k) ?? 0;
      if (held >= max) {
        // No time is known at which a place frees up: a second is the shortest honest hint.
        return new GatewayError('rate_limited', {
          headers: { 'retry-after': '1', ...rateLimitHeaders([policy(0)], policy(0), which) },
          extensions: { retryAfter: 1, violatedPolicies: [name] },
          problemType: quotaExceeded([name]),
          details: { limiter: name, inFlight: held },
        });
      }
      inFlight.set(k, held + 1);
      const lease: Lease = { key: k, released: false, headers: headerOptions.allowed === true ? rateLimitHeaders([policy(max - held - 1)], policy(max - held - 1), which) : {} };
      setScope(ctx, slot, lease);
      return undefined;
    },
    ...(headerOptions.allowed === true
      ? {
          response: (ctx: ResponseContext) => {
            const lease = readScope<Lease>(ctx, slot);
            if (lease !== undefined) applyHeaders(ctx.headers, lease.headers);
          },
        }
      : {}),
    settle: (event) => {
      const lease = readScope<Lease>(event, slot);
      if (lease === undefined || lease.released) return;
      lease.released = true;
      const held = (inFlight.get(lease.key) ?? 1) - 1;
      if (held <= 0) inFlight.delete(lease.key);
      else inFlight.set(lease.key, held);
    },
  };
};
