/** A duration: milliseconds, or a number with a unit (`'500ms'`, `'1s'`, `'15m'`, `'1h'`, `'1d'`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds; throws a TypeError naming `what` for anything but a positive, finite one. */
export const durationMs = (value: Duration, what: string): number => {
  let ms: number = Number.NaN;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
    if (match) ms = Number(match[1]) * units[match[2]!]!;
  }
  if (!Number.isFinite(ms) || ms <= 0) throw new TypeError(`@apigate/rate-limit: ${what} must be a positive duration (ms, or '1s', '1m', ...), got ${String(value)}`);
  return ms;
};

const positive = (value: number, what: string, integer = true): number => {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`@apigate/rate-limit: ${what} must be a positive ${integer ? 'whole ' : ''}number, got ${String(value)}`);
  }
  return value;
};

// Structured-field keys are not required for the policy names (they are sf-strings), but a name is
// also part of the storage keys, so it is kept to a safe alphabet.
const namePattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const checkName = (name: string): string => {
  if (!namePattern.test(name)) throw new TypeError(`@apigate/rate-limit: a limit name is 1-64 of a-z 0-9 _ . - (starting with a letter or digit), got ${JSON.stringify(name)}`);
  return name;
};

/**
 * One rate limit, as the stores decide it. `quota` and `windowMs` are what the RateLimit-Policy
 * header advertises (`q`, `w`); the algorithm's own parameters follow from them.
 */
export type Limit =
  | {
      readonly algorithm: 'token-bucket';
      readonly name: string;
      /** Bucket capacity: the burst, in cost units. */
      readonly quota: number;
      /** Milliseconds to refill one unit (the GCRA emission interval). */
      readonly intervalMs: number;
      /** Time to refill the whole bucket: quota × intervalMs. */
      readonly windowMs: number;
    }
  | { readonly algorithm: 'sliding-window' | 'fixed-window'; readonly name: string; readonly quota: number; readonly windowMs: number };

export interface TokenBucketOptions {
  /** Units refilled every `per`. */
  rate: number;
  /** The refill period; default one second. */
  per?: Duration;
  /** The bucket's capacity: how many units may be spent at once; default `rate`. */
  burst?: number;
  /** The policy's name in the RateLimit headers and storage keys; default `tb-<burst>-<rate>-<per ms>`. */
  name?: string;
}

/**
 * A token bucket of `burst` units refilled at `rate` per `per`, decided as GCRA (one timestamp per
 * key): bursts up to `burst`, then a steady `rate`.
 * @example tokenBucket({ rate: 10, per: '1s', burst: 20 })
 */
export const tokenBucket = ({ rate, per = 1_000, burst = rate, name }: TokenBucketOptions): Limit => {
  const perMs = durationMs(per, 'tokenBucket per');
  positive(rate, 'tokenBucket rate', false);
  positive(burst, 'tokenBucket burst');
  const intervalMs = perMs / rate;
  return { algorithm: 'token-bucket', name: checkName(name ?? `tb-${burst}-${rate}-${perMs}`), quota: burst, intervalMs, windowMs: intervalMs * burst };
};

export interface WindowOptions {
  /** Units allowed per window. */
  limit: number;
  window: Duration;
  /** The policy's name in the RateLimit headers and storage keys; default `sw-`/`fw-<limit>-<window ms>`. */
  name?: string;
}

/**
 * `limit` units per sliding `window`, estimated from two fixed windows (the previous one weighted by
 * how much of it still overlaps the sliding window). See docs/rate-limiting.md for its worst case.
 * @example slidingWindow({ limit: 1000, window: '1d' })
 */
export const slidingWindow = ({ limit, window, name }: WindowOptions): Limit => {
  const windowMs = durationMs(window, 'slidingWindow window');
  return { algorithm: 'sliding-window', name: checkName(name ?? `sw-${positive(limit, 'slidingWindow limit')}-${windowMs}`), quota: positive(limit, 'slidingWindow limit'), windowMs };
};

/**
 * `limit` units per fixed `window` (aligned on the clock's multiples of the window): the simplest,
 * and the one that lets up to twice the limit through around a window's edge.
 * @example fixedWindow({ limit: 100, window: '1m' })
 */
export const fixedWindow = ({ limit, window, name }: WindowOptions): Limit => {
  const windowMs = durationMs(window, 'fixedWindow window');
  return { algorithm: 'fixed-window', name: checkName(name ?? `fw-${positive(limit, 'fixedWindow limit')}-${windowMs}`), quota: positive(limit, 'fixedWindow limit'), windowMs };
};
