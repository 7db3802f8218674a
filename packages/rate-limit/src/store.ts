import type { Limit } from './limits.ts';

/** One limit to decide for one request. */
export interface LimitCheck {
  /**
   * Who is limited: the limiter's name and the request's key (`api:203.0.113.7`). Every check of a
   * request has the same subject, so a store can keep them together (the Redis hash tag).
   */
  readonly subject: string;
  /** Which of the subject's limits: the tier and the limit's name (`pro:tb-20-10-1000`). */
  readonly id: string;
  readonly limit: Limit;
  /** Units the request costs; whole and positive. */
  readonly cost: number;
}

/** What a store decided for one check. Times are in whole milliseconds from the store's now. */
export interface Outcome {
  readonly allowed: boolean;
  /** Units left after this request (when allowed) or now (when refused). */
  readonly remaining: number;
  /** Until the limit is entirely available again. */
  readonly resetMs: number;
  /** For a refused check: until a request of the same cost would pass, with no other traffic; 0 when allowed. */
  readonly retryAfterMs: number;
}

/**
 * Where limits are counted. `consume` decides every check of one request at once, **all or
 * nothing**: when one check refuses, none of them is spent. It may answer synchronously (the memory
 * store) or with a promise (Redis); an asynchronous answer slower than `timeout` is not waited for.
 */
export interface RateLimitStore {
  consume(checks: readonly LimitCheck[]): readonly Outcome[] | Promise<readonly Outcome[]>;
  /** Milliseconds the limiter waits for an asynchronous answer before its failure mode applies; default 50. */
  readonly timeout?: number;
  /** Releases what the store holds; the limiters' `close` call it (gateway.close()). */
  close?(): void | Promise<void>;
}

/** What a concurrency store answered to a request for a place. */
export interface Acquired {
  readonly allowed: boolean;
  /** Places of the key held now, this request's included when allowed. */
  readonly inFlight: number;
  /** When allowed: the lease to give back to `release`. */
  readonly lease?: string;
}

/**
 * Where a concurrency limit counts the requests in flight. Every admitted request takes a lease
 * that it gives back when it settles; a shared store (Redis) also lets leases expire, so that the
 * places of an instance that crashed free themselves.
 */
export interface ConcurrencyStore {
  /** Takes one of `max` places of `key`, or refuses when all are held. */
  acquire(key: string, max: number): Acquired | Promise<Acquired>;
  /** Gives a place back; never throws for a lease already expired or released. */
  release(key: string, lease: string): void | Promise<void>;
  /** Milliseconds the limiter waits for `acquire` before its failure mode applies; default 50. */
  readonly timeout?: number;
  close?(): void | Promise<void>;
}
