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
