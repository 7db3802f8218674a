import type { Middleware, RequestContext, ResponseContext, RouteInfo } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { applyHeaders, policyValue, rateLimitHeaders, seconds, styles, type HeaderOptions, type PolicyReport } from './headers.ts';
import { bounded, defaultTimeout, isThenable, StoreTimeout } from './internal/bounded.ts';
import { shortKey } from './internal/hash.ts';
import { quotaExceeded } from './internal/problem.ts';
import { readScope, setScope } from './internal/scope.ts';
import { byIp, joinKeys, type KeyFunction } from './keys.ts';
import type { Limit } from './limits.ts';
import { memoryStore, type MemoryStore } from './memory-store.ts';
import type { LimitCheck, Outcome, RateLimitStore } from './store.ts';

/** A store that failed or did not answer within its timeout. */
export interface StoreFailure {
  /** The limiter's name. */
  readonly limiter: string;
  /** `timeout` when the store was slower than its timeout, else `error`. */
  readonly reason: 'timeout' | 'error';
  readonly error: unknown;
  /**
   * What the limiter did: let the request through (`open`), refused it with 503 (`closed`), or
   * decided it with its local insurance limiter (`insurance`).
   */
  readonly failure: FailureMode;
  readonly route: RouteInfo;
}

/** What a limiter does while its store fails; see {@link RateLimitOptions.failure}. */
export type FailureMode = 'open' | 'closed' | 'insurance';

/** The local limiter a limiter with `failure: 'insurance'` falls back on while its store fails. */
export interface InsuranceOptions {
  /** Where the insurance counts; default a memory store of the limiter's own. */
  store?: MemoryStore;
  /**
   * How many gateway instances share the store's limits: while it fails, each instance admits
   * `1/instances` of every quota (at least 1 unit), so that together they stay near the global
   * limit. Default 1: each instance admits the whole quota.
   */
  instances?: number;
}

export interface RateLimitOptions {
  /** Shown in gateway.routes() and reports, and part of every storage key; default `'rate-limit'`. */
  name?: string;
  /**
   * The limits every request is checked against, all of them: a request passes only when each one
   * has room for its cost, and then each is spent. With `tiers`, the limits of requests whose tier
   * is not listed.
   */
  limits: readonly Limit[];
  /** What a request is limited as; default the client address (`byIp()`). A list is joined. */
  key?: KeyFunction | readonly KeyFunction[];
  /**
   * Limits chosen by a tier: `by` reads the tier from a scope value (its key) or a function, and
   * `limits` maps tier names to their limits (`[]`: not limited). Unlisted tiers get `limits`.
   * @example { by: 'tier', limits: { pro: [tokenBucket({ rate: 100 })], internal: [] } }
   */
  tiers?: { by: PropertyKey | ((ctx: RequestContext) => string | undefined); limits: Readonly<Record<string, readonly Limit[]>> };
  /** Units one request spends; a function for weighted routes (a bulk call costing 10). Default 1. */
  cost?: number | ((ctx: RequestContext) => number);
  /** Where limits are counted; default a memory store of this limiter's own. */
  store?: RateLimitStore;
  headers?: HeaderOptions;
  /**
   * When the store fails or is slower than its timeout: `'open'` (default) lets the request through,
   * `'closed'` refuses it with 503 `service_unavailable`, `'insurance'` decides it with a local
   * in-memory limiter (see `insurance`) until the store answers again. Each way `onStoreError`
   * hears of it.
   */
  failure?: FailureMode;
  /** The local limiter of `failure: 'insurance'`. */
  insurance?: InsuranceOptions;
  /** Hears every store failure; without it the first one of each limiter is logged on the console. */
  onStoreError?: (failure: StoreFailure) => void;
}

/** What the request phase leaves for the response phase. */
interface Decision {
  readonly allowed: boolean;
  readonly headers: Readonly<Record<string, string>>;
}


const checkLimits = (limits: readonly Limit[], where: string): readonly Limit[] => {
  const names = limits.map((limit) => limit.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new TypeError(`@apigate/rate-limit: two limits of ${where} are named "${twice}"; give each its own name`);
  return limits;
};

/** A limit with `1/instances` of its quota (at least one unit), at the same rate per unit of quota. */
const shareOf = (limit: Limit, instances: number): Limit => {
  if (instances === 1) return limit;
  const quota = Math.max(1, Math.floor(limit.quota / instances));
  if (limit.algorithm !== 'token-bucket') return { ...limit, quota };
  // The refill slows by the same factor: each instance gets its share of the rate as well.
  const intervalMs = limit.intervalMs * instances;
  return { ...limit, quota, intervalMs, windowMs: intervalMs * quota };
};

const reportOf = (limit: Limit, outcome: Outcome): PolicyReport => ({
  name: limit.name,
  quota: limit.quota,
  windowSeconds: seconds(limit.windowMs),
  unit: 'requests',
  remaining: outcome.remaining,
  resetSeconds: seconds(outcome.resetMs),
});

/**
 * Rate limiting as middleware: every request is checked against the limits of its tier, keyed by
 * the client address (or any key), and refused with 429 `rate_limited`, `Retry-After` and the
 * RateLimit headers when one of them has no room. Attach it to the gateway, a service or a route,
 * or use it as Express/Koa/Hono middleware through the adapters.
 * @example
 * const limiter = rateLimit({ limits: [tokenBucket({ rate: 10, burst: 20 }), slidingWindow({ limit: 1000, window: '1d' })] });
 * service({ prefix: '/api', use: [limiter] }, routes);
 */
export const rateLimit = ({
  name = 'rate-limit',
  limits,
  key = byIp(),
  tiers,
  cost = 1,
  store = memoryStore(),
  headers: headerOptions = {},
  failure = 'open',
  insurance = {},
  onStoreError,
}: RateLimitOptions): Middleware => {
  const { instances = 1 } = insurance;
  if (!Number.isInteger(instances) || instances < 1) throw new TypeError(`@apigate/rate-limit: insurance instances must be a positive whole number, got ${String(instances)}`);
  // Made only when it can be used: a limiter without insurance holds no second store.
  const local = failure === 'insurance' ? (insurance.store ?? memoryStore()) : undefined;
  const shares = new Map<Limit, Limit>();
  checkLimits(limits, name);
  for (const [tier, list] of Object.entries(tiers?.limits ?? {})) checkLimits(list, `${name} tier "${tier}"`);
  const keyOf = typeof key === 'function' ? key : joinKeys(key);
  const tierOf = tiers === undefined ? undefined : typeof tiers.by === 'function' ? tiers.by : scopeTier(tiers.by);
  const which = styles(headerOptions.style);
  const timeout = store.timeout ?? defaultTimeout;
  const slot = Symbol(name);
  let warned = false;

  // What a tier's limits need on every request and never change: each limit's id in the store and
  // the RateLimit-Policy value. Made once for the untiered limits and once per tier.
  interface Prepared {
    readonly ids: readonly string[];
    readonly policy: string;
  }
  const prepare = (list: readonly Limit[], tierName: string): [string, Prepared] => [
    tierName,
    { ids: list.map((limit) => `${tierName}:${limit.name}`), policy: policyValue(list.map((limit) => ({ name: limit.name, quota: limit.quota, windowSeconds: seconds(limit.windowMs), unit: 'requests' as const }))) },
  ];
  const untiered = prepare(limits, '')[1];
  const prepared = new Map<string, Prepared>(Object.entries(tiers?.limits ?? {}).map(([tier, list]) => prepare(list, tier)));

  const report = (failed: StoreFailure): void => {
    try {
      if (onStoreError !== undefined) onStoreError(failed);
      else if (!warned) {
        warned = true;
        const mode = { open: 'let through', closed: 'refused', insurance: 'limited by a local limiter' }[failed.failure];
        console.error(`apigate: the store of rate limiter "${name}" failed (${failed.reason}); requests are ${mode} while it does (further failures are not reported)`, failed.error);
      }
    } catch {
      // A throwing report must not decide the request.
    }
  };

  const failed = (ctx: RequestContext, chosen: readonly Limit[], checks: readonly LimitCheck[], error: unknown): GatewayError | undefined => {
    report({ limiter: name, reason: error instanceof StoreTimeout ? 'timeout' : 'error', error, failure, route: ctx.route });
    if (failure === 'open') return undefined;
    if (local !== undefined) {
      const share = (limit: Limit): Limit => {
        let shared = shares.get(limit);
        if (shared === undefined) shares.set(limit, (shared = shareOf(limit, instances)));
        return shared;
      };
      const scaled = chosen.map(share);
      return decided(ctx, scaled, local.consume(checks.map((check, i) => ({ ...check, limit: scaled[i]! }))));
    }
    return new GatewayError('service_unavailable', { message: 'The rate limiter is unavailable.', headers: { 'retry-after': '1' }, details: { limiter: name, reason: error instanceof StoreTimeout ? 'timeout' : 'error' }, cause: error });
  };

  /** `policy`: the limits' RateLimit-Policy value when prepared (the insurance's scaled limits have none). */
  const decided = (ctx: RequestContext, chosen: readonly Limit[], outcomes: readonly Outcome[], policy?: string): GatewayError | undefined => {
    let allowed = true;
    for (const outcome of outcomes) if (!outcome.allowed) allowed = false;
    // The allowed path, every request's, allocates nothing unless it sends headers.
    if (allowed && headerOptions.allowed !== true) return undefined;
    const reports = chosen.map((limit, i) => reportOf(limit, outcomes[i]!));
    if (allowed) {
      // The fewest units left; on a tie, the longest wait for them to come back.
      let restrictive = 0;
      for (let i = 1; i < outcomes.length; i++) {
        const outcome = outcomes[i]!;
        const best = outcomes[restrictive]!;
        if (outcome.remaining < best.remaining || (outcome.remaining === best.remaining && outcome.resetMs > best.resetMs)) restrictive = i;
      }
      setScope(ctx, slot, { allowed: true, headers: rateLimitHeaders(reports, reports[restrictive]!, which, policy) } satisfies Decision);
      return undefined;
    }
    const refused = outcomes.flatMap((outcome, i) => (outcome.allowed ? [] : [i]));
    // The request may pass only once every refusing limit has room: the longest of their waits.
    const worst = refused.reduce((a, b) => (outcomes[b]!.retryAfterMs > outcomes[a]!.retryAfterMs ? b : a));
    const retryAfter = seconds(outcomes[worst]!.retryAfterMs);
    const headers = { 'retry-after': String(retryAfter), ...rateLimitHeaders(reports, { ...reports[worst]!, remaining: 0 }, which, policy) };
    setScope(ctx, slot, { allowed: false, headers } satisfies Decision);
    return new GatewayError('rate_limited', {
      headers,
      extensions: { retryAfter, violatedPolicies: refused.map((i) => chosen[i]!.name) },
      details: { limiter: name, policies: refused.map((i) => chosen[i]!.name) },
      problemType: quotaExceeded(refused.map((i) => chosen[i]!.name)),
    });
  };

  const describe = {
    'rate-limit': {
      name,
      limits: limits.map((limit) => ({ name: limit.name, algorithm: limit.algorithm, quota: limit.quota, windowSeconds: seconds(limit.windowMs) })),
      ...(tiers === undefined ? {} : { tiers: Object.fromEntries(Object.entries(tiers.limits).map(([tier, list]) => [tier, list.map((limit) => limit.name)])) }),
    },
  };

  return {
    name,
    describe,
    request: function rateLimit(ctx) {
      const rawKey = keyOf(ctx);
      if (rawKey === undefined) return undefined;
      const tier = tierOf?.(ctx);
      const chosen = tier !== undefined && tiers !== undefined && Object.hasOwn(tiers.limits, tier) ? tiers.limits[tier]! : limits;
      if (chosen.length === 0) return undefined;
      const units = typeof cost === 'function' ? cost(ctx) : cost;
      if (!Number.isInteger(units) || units < 0) {
        throw new GatewayError('internal', { details: { limiter: name, reason: `the cost of a request must be a whole number of units, got ${String(units)}` } });
      }
      if (units === 0) return undefined;
      const { ids, policy } = chosen === limits ? untiered : prepared.get(tier!)!;
      const subject = `${name}:${shortKey(rawKey)}`;
      const checks: LimitCheck[] = [];
      for (let i = 0; i < chosen.length; i++) checks.push({ subject, id: ids[i]!, limit: chosen[i]!, cost: units });
      let answer: readonly Outcome[] | PromiseLike<readonly Outcome[]>;
      try {
        answer = store.consume(checks);
      } catch (error) {
        return failed(ctx, chosen, checks, error);
      }
      if (!isThenable(answer)) return decided(ctx, chosen, answer, policy);
      return bounded(answer, timeout).then(
        (outcomes) => decided(ctx, chosen, outcomes, policy),
        (error: unknown) => failed(ctx, chosen, checks, error),
      );
    },
    // Refusals carry their headers on the error; only allowed responses need the response phase.
    ...(headerOptions.allowed === true
      ? {
          response: (ctx: ResponseContext) => {
            const decision = readScope<Decision>(ctx, slot);
            if (decision?.allowed === true) applyHeaders(ctx.headers, decision.headers);
          },
        }
      : {}),
    close: () => store.close?.(),
  };
};

const scopeTier =
  (scopeKey: PropertyKey) =>
  (ctx: RequestContext): string | undefined => {
    const value = (ctx as RequestContext<Record<string, string>, { scope: Record<PropertyKey, unknown> }>).get(scopeKey);
    return typeof value === 'string' ? value : undefined;
  };
