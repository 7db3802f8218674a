import type { Middleware, RequestContext, ResponseContext, RouteInfo } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { applyHeaders, rateLimitHeaders, styles, type HeaderOptions, type PolicyReport } from './headers.ts';
import { bounded, defaultTimeout, isThenable, StoreTimeout } from './internal/bounded.ts';
import { shortKey } from './internal/hash.ts';
import { quotaExceeded } from './internal/problem.ts';
import { readScope, setScope } from './internal/scope.ts';
import { allRequests, joinKeys, type KeyFunction } from './keys.ts';
import type { FailureMode, StoreFailure } from './rate-limit.ts';
import type { Acquired, ConcurrencyStore } from './store.ts';

export interface ConcurrencyLimitOptions {
  /** How many requests of one key may be in flight at once. */
  max: number;
  /** Shown in gateway.routes(), and the policy's name in the RateLimit headers; default `'concurrency'`. */
  name?: string;
  /** What requests are counted together; default all of them (`allRequests()`). A list is joined. */
  key?: KeyFunction | readonly KeyFunction[];
  headers?: HeaderOptions;
  /**
   * Where the requests in flight are counted: default this process (each instance admits `max`);
   * a Redis store (`redisStore` of `@apigate/rate-limit/redis`) shares `max` between instances.
   */
  store?: ConcurrencyStore;
  /**
   * When the store fails or is slower than its timeout: `'open'` (default) admits the request,
   * `'closed'` refuses it with 503 `service_unavailable`, `'insurance'` counts it in this process
   * against `max`. Each way `onStoreError` hears of it.
   */
  failure?: FailureMode;
  /** Hears every store failure; without it the first one of each limiter is logged on the console. */
  onStoreError?: (failure: StoreFailure) => void;
}

/** What a request holds: released once, in settle, however the request ended. */
interface Lease {
  readonly key: string;
  /** Where the place was taken: the store (with its lease), this process, or nowhere (failed open). */
  readonly where: 'store' | 'local' | 'none';
  readonly lease: string | undefined;
  readonly route: RouteInfo;
  released: boolean;
  readonly headers: Readonly<Record<string, string>>;
}

/** The places of this process: a count per key. */
class LocalSlots {
  readonly #inFlight = new Map<string, number>();

  acquire(key: string, max: number): Acquired {
    const held = this.#inFlight.get(key) ?? 0;
    if (held >= max) return { allowed: false, inFlight: held };
    this.#inFlight.set(key, held + 1);
    return { allowed: true, inFlight: held + 1 };
  }

  release(key: string): void {
    const held = (this.#inFlight.get(key) ?? 1) - 1;
    if (held <= 0) this.#inFlight.delete(key);
    else this.#inFlight.set(key, held);
  }
}

/**
 * At most `max` requests in flight per key — in this process, or across instances through a
 * shared store: a request over it is refused with 429 `rate_limited` at once (no queue), and each
 * admitted one frees its place when it settles — a response, an error, a timeout or a client that
 * left. A request refused before this limiter's request phase ran never held a place and frees none.
 * @example get('/export', { use: [concurrencyLimit({ max: 2, key: byIp() })] })
 */
export const concurrencyLimit = ({
  max,
  name = 'concurrency',
  key = allRequests(),
  headers: headerOptions = {},
  store,
  failure = 'open',
  onStoreError,
}: ConcurrencyLimitOptions): Middleware => {
  if (!Number.isInteger(max) || max < 1) throw new TypeError(`@apigate/rate-limit: concurrencyLimit max must be a positive whole number, got ${String(max)}`);
  const keyOf = typeof key === 'function' ? key : joinKeys(key);
  const which = styles(headerOptions.style);
  const local = new LocalSlots();
  const timeout = store?.timeout ?? defaultTimeout;
  const slot = Symbol(name);
  const policy = (remaining: number): PolicyReport => ({ name, quota: max, windowSeconds: undefined, unit: 'concurrent-requests', remaining, resetSeconds: undefined });
  let warned = false;

  const report = (failed: StoreFailure): void => {
    try {
      if (onStoreError !== undefined) onStoreError(failed);
      else if (!warned) {
        warned = true;
        console.error(`apigate: the store of concurrency limit "${name}" failed (${failed.reason}); further failures are not reported`, failed.error);
      }
    } catch {
      // A throwing report must not decide the request.
    }
  };

  const decided = (ctx: RequestContext, k: string, where: Lease['where'], acquired: Acquired): GatewayError | undefined => {
    if (!acquired.allowed) {
      // No time is known at which a place frees up: a second is the shortest honest hint.
      return new GatewayError('rate_limited', {
        headers: { 'retry-after': '1', ...rateLimitHeaders([policy(0)], policy(0), which) },
        extensions: { retryAfter: 1, violatedPolicies: [name] },
        problemType: quotaExceeded([name]),
        details: { limiter: name, inFlight: acquired.inFlight },
      });
    }
    const left = Math.max(0, max - acquired.inFlight);
    setScope(ctx, slot, { key: k, where, lease: acquired.lease, route: ctx.route, released: false, headers: headerOptions.allowed === true ? rateLimitHeaders([policy(left)], policy(left), which) : {} } satisfies Lease);
    return undefined;
  };

  const failed = (ctx: RequestContext, k: string, error: unknown): GatewayError | undefined => {
    const reason = error instanceof StoreTimeout ? 'timeout' : 'error';
    report({ limiter: name, reason, error, failure, route: ctx.route });
    if (failure === 'open') return decided(ctx, k, 'none', { allowed: true, inFlight: 0 });
    if (failure === 'insurance') return decided(ctx, k, 'local', local.acquire(k, max));
    return new GatewayError('service_unavailable', { message: 'The rate limiter is unavailable.', headers: { 'retry-after': '1' }, details: { limiter: name, reason }, cause: error });
  };

  const fromStore = (ctx: RequestContext, k: string, store: ConcurrencyStore): GatewayError | undefined | Promise<GatewayError | undefined> => {
    let answer: Acquired | PromiseLike<Acquired>;
    try {
      answer = store.acquire(k, max);
    } catch (error) {
      return failed(ctx, k, error);
    }
    if (!isThenable(answer)) return decided(ctx, k, 'store', answer);
    const pending = answer;
    return bounded(pending, timeout).then(
      (acquired) => decided(ctx, k, 'store', acquired),
      (error: unknown) => {
        // A place taken after the limiter stopped waiting is given back at once, not left to expire.
        if (error instanceof StoreTimeout) pending.then((late) => (late.allowed && late.lease !== undefined ? giveBack(ctx.route, store, k, late.lease) : undefined), () => undefined);
        return failed(ctx, k, error);
      },
    );
  };

  const giveBack = (route: RouteInfo, store: ConcurrencyStore, k: string, lease: string): void => {
    // A place not given back is not lost: the store's lease expires.
    const reported = (error: unknown): void => report({ limiter: name, reason: 'error', error, failure, route });
    try {
      const done = store.release(k, lease);
      if (isThenable(done)) done.then(undefined, reported);
    } catch (error) {
      reported(error);
    }
  };

  return {
    name,
    describe: { 'rate-limit': { name, concurrency: max, ...(store === undefined ? {} : { shared: true }) } },
    request: function concurrencyLimit(ctx) {
      const raw = keyOf(ctx);
      if (raw === undefined) return undefined;
      // The limiter's name keeps limits that share a store apart, as the rate limiter's keys do.
      const k = `${name}:${shortKey(raw)}`;
      if (store === undefined) return decided(ctx, k, 'local', local.acquire(k, max));
      return fromStore(ctx, k, store);
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
      if (lease.where === 'local') local.release(lease.key);
      else if (lease.where === 'store' && store !== undefined && lease.lease !== undefined) giveBack(lease.route, store, lease.key, lease.lease);
    },
    close: () => store?.close?.(),
  };
};
