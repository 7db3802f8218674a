import type { Limit } from '../limits.ts';
import type { Outcome } from '../store.ts';

/**
 * The decision of one limit over its stored state, at `now` (ms). The Redis store's Lua script is
 * the same arithmetic line for line (src/redis/script.ts); keep the two in step.
 *
 * State per algorithm: token bucket `[tat]` (the theoretical arrival time: when the bucket is full
 * again), fixed window `[window, count]`, sliding window `[window, current, previous]`.
 */
export interface Evaluation {
  readonly outcome: Outcome;
  /** The outcome when nothing is spent because another limit of the request refused it. */
  readonly held: Outcome;
  /** The state to store when every limit of the request allowed it. */
  readonly next: readonly number[];
  /** How long the stored state matters; it may be dropped after. */
  readonly ttlMs: number;
}

// Float slack for comparisons: 1000/3 × 3 need not be exactly 1000.
const eps = 1e-9;

const ms = (value: number): number => Math.max(0, Math.ceil(value - eps));
const units = (value: number): number => Math.max(0, Math.floor(value + eps));

const tokenBucket = (intervalMs: number, quota: number, state: readonly number[] | undefined, now: number, cost: number): Evaluation => {
  const capacity = quota * intervalMs;
  const tat = Math.max(state?.[0] ?? now, now);
  const next = tat + cost * intervalMs;
  const left = units((capacity - (tat - now)) / intervalMs);
  if (next - now <= capacity + eps) {
    return {
      outcome: { allowed: true, remaining: units((capacity - (next - now)) / intervalMs), resetMs: ms(next - now), retryAfterMs: 0 },
      held: { allowed: true, remaining: left, resetMs: ms(tat - now), retryAfterMs: 0 },
      next: [next],
      ttlMs: ms(next - now),
    };
  }
  // A cost above the bucket's capacity never passes: the client is told the time to a full bucket.
  const retry = cost > quota ? tat - now + capacity : next - capacity - now;
  const outcome = { allowed: false, remaining: left, resetMs: ms(tat - now), retryAfterMs: Math.max(1, ms(retry)) };
  return { outcome, held: outcome, next: [tat], ttlMs: ms(tat - now) };
};

const fixedWindow = (windowMs: number, quota: number, state: readonly number[] | undefined, now: number, cost: number): Evaluation => {
  const window = Math.floor(now / windowMs);
  const count = state !== undefined && state[0] === window ? state[1]! : 0;
  const end = ms((window + 1) * windowMs - now);
  if (count + cost <= quota) {
    return { outcome: { allowed: true, remaining: quota - count - cost, resetMs: end, retryAfterMs: 0 }, held: { allowed: true, remaining: quota - count, resetMs: count > 0 ? end : 0, retryAfterMs: 0 }, next: [window, count + cost], ttlMs: end };
  }
  const outcome = { allowed: false, remaining: quota - count, resetMs: end, retryAfterMs: Math.max(1, end) };
  return { outcome, held: outcome, next: [window, count], ttlMs: end };
};

const slidingWindow = (windowMs: number, quota: number, state: readonly number[] | undefined, now: number, cost: number): Evaluation => {
  const window = Math.floor(now / windowMs);
  let current = 0;
  let previous = 0;
  if (state !== undefined && state[0] === window) [current, previous] = [state[1]!, state[2]!];
  else if (state !== undefined && state[0] === window - 1) previous = state[1]!;
  const start = window * windowMs;
  const estimate = (previous * (windowMs - (now - start))) / windowMs + current;
  const ttlMs = ms(start + 2 * windowMs - now);
  const resetMs = current > 0 ? ttlMs : previous > 0 ? ms(start + windowMs - now) : 0;
  if (estimate + cost <= quota + eps) {
    return {
      outcome: { allowed: true, remaining: units(quota - estimate - cost), resetMs: ttlMs, retryAfterMs: 0 },
      held: { allowed: true, remaining: units(quota - estimate), resetMs, retryAfterMs: 0 },
      next: [window, current + cost, previous],
      ttlMs,
    };
  }
  // When the estimate, falling as the previous window slides out, first leaves room for `cost`.
  let at: number;
  if (cost > quota) at = start + 2 * windowMs;
  else if (current + cost <= quota) at = start + windowMs - (windowMs * (quota - current - cost)) / previous;
  else at = start + windowMs + Math.max(0, windowMs - (windowMs * (quota - cost)) / current);
  const outcome = { allowed: false, remaining: units(quota - estimate), resetMs, retryAfterMs: Math.max(1, ms(at - now)) };
  return { outcome, held: outcome, next: [window, current, previous], ttlMs };
};

/** Decides one limit for a request of `cost` units at `now`, over its state (undefined: none yet). */
export const evaluate = (limit: Limit, state: readonly number[] | undefined, now: number, cost: number): Evaluation => {
  switch (limit.algorithm) {
    case 'token-bucket':
      return tokenBucket(limit.intervalMs, limit.quota, state, now, cost);
    case 'fixed-window':
      return fixedWindow(limit.windowMs, limit.quota, state, now, cost);
    case 'sliding-window':
      return slidingWindow(limit.windowMs, limit.quota, state, now, cost);
  }
};
